using System.Text.Json;

namespace SrMobile.Contracts;

/// <summary>
/// Writes a spec back in the format <see cref="SearchSpecReader"/> reads (JSON, field names as in YAML), so code
/// that adjusts a spec (the demo's budgets, resolved dataset paths) submits text like any user would.
/// </summary>
public static class SearchSpecWriter
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string ToJson(SearchSpec spec) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["name"] = spec.Name,
        ["scales"] = spec.Scales,
        ["depths"] = spec.Depths,
        ["widths"] = spec.Widths,
        ["quantization"] = spec.Quantization.Select(q => q.Kind == "ptq"
            ? new Dictionary<string, object> { ["kind"] = q.Kind, ["method"] = q.Method, ["calibration_images"] = q.CalibrationImages }
            : new Dictionary<string, object> { ["kind"] = q.Kind, ["iterations"] = q.QatIterations, ["lr"] = q.QatLearningRate }),
        ["training"] = new Dictionary<string, object>
        {
            ["iterations"] = spec.Training.Iterations,
            ["batch_size"] = spec.Training.BatchSize,
            ["patch_size"] = spec.Training.PatchSize,
            ["lr"] = spec.Training.LearningRate,
            ["lr_milestones"] = spec.Training.LearningRateMilestones,
        },
        ["datasets"] = new Dictionary<string, string?>
        {
            ["train"] = spec.Datasets.Train,
            ["validation"] = spec.Datasets.Validation,
            ["calibration"] = spec.Datasets.Calibration,
        }.Where(d => d.Value is not null).ToDictionary(),
        ["devices"] = spec.Devices,
        ["protocol"] = new Dictionary<string, object>
        {
            ["input"] = $"{spec.Protocol.Height}x{spec.Protocol.Width}",
            ["threads"] = spec.Protocol.Threads,
            ["warmup"] = spec.Protocol.Warmup,
            ["min_runs"] = spec.Protocol.MinRuns,
            ["min_seconds"] = spec.Protocol.MinSeconds,
            ["max_seconds"] = spec.Protocol.MaxSeconds,
        },
        ["constraints"] = new Dictionary<string, object> { ["max_ms"] = spec.MaxMilliseconds },
        ["activations"] = spec.Activations,
        ["priority"] = spec.Priority,
        ["mai_constant"] = spec.MaiConstant,
        ["device_timeout"] = spec.DeviceTimeoutSeconds,
    }.Where(e => e.Value is not null).ToDictionary(), Json);
}
