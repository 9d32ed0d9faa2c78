namespace SrMobile.Contracts;

/// <summary>How candidates are quantized: PTQ with its calibration, or QAT with its schedule.</summary>
[GenerateSerializer, Immutable]
public sealed record QuantizationRecipe(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Method,
    [property: Id(2)] int CalibrationImages,
    [property: Id(3)] long QatIterations,
    [property: Id(4)] double QatLearningRate)
{
    /// <summary>A short stable name for keys and tables: <c>ptq-minmax-100</c>, <c>qat-20000-0.0001</c>.</summary>
    public string Key => Kind == "ptq"
        ? $"ptq-{Method}-{CalibrationImages}"
        : FormattableString.Invariant($"qat-{QatIterations}-{QatLearningRate:G4}");
}

[GenerateSerializer, Immutable]
public sealed record TrainingRecipe(
    [property: Id(0)] long Iterations,
    [property: Id(1)] int BatchSize,
    [property: Id(2)] int PatchSize,
    [property: Id(3)] double LearningRate,
    [property: Id(4)] IReadOnlyList<double> LearningRateMilestones);

[GenerateSerializer, Immutable]
public sealed record SearchDatasets(
    [property: Id(0)] string Train,
    [property: Id(1)] string? Validation,
    [property: Id(2)] string? Calibration);

/// <summary>The measurement protocol every device agent runs (see the Engine's LatencyProtocol).</summary>
[GenerateSerializer, Immutable]
public sealed record MeasurementProtocol(
    [property: Id(0)] int Height,
    [property: Id(1)] int Width,
    [property: Id(2)] int Threads,
    [property: Id(3)] int Warmup,
    [property: Id(4)] int MinRuns,
    [property: Id(5)] double MinSeconds,
    [property: Id(6)] double MaxSeconds);

/// <summary>
/// A grid search: every (scale, depth, width, quantization recipe) is one candidate. <see cref="DeviceTimeoutSeconds"/>
/// (<c>device_timeout</c>): a measurement that no worker of its device key has taken for this long fails its candidate.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SearchSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyList<int> Scales,
    [property: Id(2)] IReadOnlyList<int> Depths,
    [property: Id(3)] IReadOnlyList<int> Widths,
    [property: Id(4)] IReadOnlyList<QuantizationRecipe> Quantization,
    [property: Id(5)] TrainingRecipe Training,
    [property: Id(6)] SearchDatasets Datasets,
    [property: Id(7)] IReadOnlyList<string> Devices,
    [property: Id(8)] MeasurementProtocol Protocol,
    [property: Id(9)] IReadOnlyDictionary<string, double> MaxMilliseconds,
    [property: Id(10)] int Priority,
    [property: Id(11)] double MaiConstant = 1,
    [property: Id(12)] double? DeviceTimeoutSeconds = null,
    [property: Id(13)] IReadOnlyDictionary<string, string>? Activations = null)
{
    /// <summary>Checked: a spec the reader accepted is within its candidate limit, so this never throws for one.</summary>
    public int CandidateCount => checked(Scales.Count * Depths.Count * Widths.Count * Quantization.Count);
}

/// <summary>One problem of a spec: the field (a dotted path) and what is wrong with it.</summary>
[GenerateSerializer, Immutable]
public sealed record SpecError([property: Id(0)] string Field, [property: Id(1)] string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>
/// The activation types of the int8 graph (docs/QUANTIZATION.md): uint8 is what x86 engines run best, int8 what ARM
/// engines run best. A spec's <c>activations</c> entry fixes a device's; a device without one measures the type its
/// own architecture runs best, so a trainer exports both for it.
/// </summary>
public static class ActivationTypes
{
    public const string UInt8 = "uint8";
    public const string Int8 = "int8";

    public static IReadOnlyList<string> All { get; } = [UInt8, Int8];

    /// <summary>What a machine of <paramref name="architecture"/> (.NET's name: X64, Arm64, …) runs best.</summary>
    public static string ForArchitecture(string? architecture) =>
        architecture is not null && architecture.StartsWith("Arm", StringComparison.OrdinalIgnoreCase) ? Int8 : UInt8;

    /// <summary>The graphs a trainer exports for <paramref name="devices"/>: each device's fixed type, both for a device without one.</summary>
    public static IReadOnlyList<string> Needed(IReadOnlyList<string> devices, IReadOnlyDictionary<string, string>? fixedTypes) =>
        devices.Any(d => fixedTypes?.ContainsKey(d) != true) ? All : [.. All.Where(t => fixedTypes!.Values.Contains(t))];
}
