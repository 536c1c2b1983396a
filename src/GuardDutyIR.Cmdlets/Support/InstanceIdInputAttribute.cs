using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Commands;

/// <summary>
/// On an InstanceId parameter that takes pipeline input by value. PowerShell turns any piped object into a string
/// for it ("System.Collections.Hashtable"), which would then be sent to EC2 as an ID. Here an object without an
/// InstanceId property becomes a string of its own that remembers the object, so <see cref="Refusal"/> can name what
/// was really piped. Strings pass unchanged, and so do objects with an InstanceId property: binding by property name
/// still takes their ID.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class InstanceIdInputAttribute : ArgumentTransformationAttribute
{
    // Keyed by the string instance handed to the binder, so nothing outlives the record it came from.
    private static readonly ConditionalWeakTable<string, object> s_sources = new();

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var raw = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (raw is null or string) return inputData!;
        if (PSObject.AsPSObject(inputData).Properties["InstanceId"] is not null) return inputData;
        var text = (string)LanguagePrimitives.ConvertTo(raw, typeof(string), CultureInfo.InvariantCulture);
        if (text.Length == 0) return inputData;
        var own = new string(text.AsSpan());
        s_sources.AddOrUpdate(own, raw);
        return own;
    }

    /// <summary>The refusal of a value that is not an instance ID (naming the piped object), or null when it is one.</summary>
    public static GuardDutyIRException? Refusal(string value) =>
        Ec2Ids.IsInstanceId(value) ? null : Ec2Ids.InvalidInstanceId(value, s_sources.TryGetValue(value, out var source) ? source : value);
}
