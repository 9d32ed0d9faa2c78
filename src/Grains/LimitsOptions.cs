using SrMobile.Contracts;

namespace SrMobile.Grains;

/// <summary>What a submit accepts (configuration section <c>SrMobile:Limits</c>); see <see cref="SpecLimits"/>.</summary>
public sealed class LimitsOptions
{
    public const string Section = "SrMobile:Limits";

    /// <summary>The most candidates one spec's grid may hold: each is a grain, a training job and stored state.</summary>
    public int MaxCandidates { get; set; } = SpecLimits.DefaultMaxCandidates;

    /// <summary>The longest spec text a submit stores.</summary>
    public int MaxSpecCharacters { get; set; } = SpecLimits.DefaultMaxSpecCharacters;
}

/// <summary>
/// The folders a spec's datasets may be in: configuration <c>SrMobile:DataRoots</c> (a list; bind the <c>SrMobile</c>
/// section). Empty means the working folder of the process (<see cref="Contracts.DataRoots"/>).
/// </summary>
public sealed class DataRootOptions
{
    public const string Section = "SrMobile";

    public List<string> DataRoots { get; set; } = [];
}
