namespace SrMobile.Contracts;

/// <summary>
/// The configurable limits of a submitted spec (configuration <c>SrMobile:Limits</c>): how many candidates its grid
/// may hold, how long its text may be and, when <paramref name="DataRoots"/> is given (the cluster's; a client
/// checking a spec before sending it does not know them), the folders its datasets may be in. A cluster that
/// accepted a spec keeps it; these guard what comes in.
/// </summary>
public sealed record SpecLimits(
    int MaxCandidates = SpecLimits.DefaultMaxCandidates,
    int MaxSpecCharacters = SpecLimits.DefaultMaxSpecCharacters,
    DataRoots? DataRoots = null)
{
    public const int DefaultMaxCandidates = 100_000;

    /// <summary>64 Ki characters: a 100,000-candidate grid is a few hundred; the text is stored whole in grain state.</summary>
    public const int DefaultMaxSpecCharacters = 65_536;

    public static SpecLimits Default { get; } = new();

    /// <summary>
    /// For specs read back from storage: they were accepted under the limits of their day, and lowering a limit
    /// later must not break a search that is already running.
    /// </summary>
    public static SpecLimits None { get; } = new(int.MaxValue, int.MaxValue);
}

/// <summary>
/// The fixed ranges of spec fields: wide enough for any sensible search, narrow enough that one spec cannot ask a
/// trainer or a device for memory or time no machine has (a 4096-wide layer, a 100,000×100,000 input, a day-long run).
/// </summary>
public static class SpecBounds
{
    public const int MaxDepth = 64;
    public const int MaxWidth = 256;
    public const int MaxInputSide = 4096;
    public const int MaxThreads = 256;
    public const int MaxWarmup = 1_000;
    public const int MaxRuns = 100_000;
    public const double MaxSeconds = 3_600;
    public const int MinPriority = -1_000;
    public const int MaxPriority = 1_000;
    public const long MaxIterations = 100_000_000;
    public const int MaxBatchSize = 1_024;
    public const int MaxPatchSize = 1_024;
    public const int MaxCalibrationImages = 100_000;
}
