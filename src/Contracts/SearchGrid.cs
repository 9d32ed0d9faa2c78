using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SrMobile.Contracts;

/// <summary>
/// A spec's grid, in the one fixed order every party uses (scale, depth, width, quantization recipe): the search grain
/// creates these candidates, clients compute the same keys without asking a grain.
/// </summary>
public static class SearchGrid
{
    public static IEnumerable<CandidateSpec> Expand(SearchSpec spec)
    {
        var trainingHash = Hash(string.Join('|', spec.Training.Iterations, spec.Training.BatchSize, spec.Training.PatchSize,
            spec.Training.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            string.Join(',', spec.Training.LearningRateMilestones.Select(m => m.ToString("R", CultureInfo.InvariantCulture))),
            spec.Datasets.Train))[..12];
        foreach (var scale in spec.Scales)
            foreach (var depth in spec.Depths)
                foreach (var width in spec.Widths)
                    foreach (var quantization in spec.Quantization)
                        yield return new CandidateSpec(spec.Name, scale, depth, width, quantization, spec.Training, trainingHash, spec.Priority, spec.Datasets, spec.Devices, spec.Protocol, spec.MaxMilliseconds, spec.Activations);
    }

    /// <summary>Lower-case hex SHA-256 of the text's UTF-8 bytes.</summary>
    public static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}

/// <summary>The Pareto front grain of one (search, scale, device key): <c>{search}/x{scale}/{device}</c>.</summary>
public static class ParetoKeys
{
    public static string Of(string search, int scale, string device) => $"{search}/x{scale}/{device}";

    /// <summary>The search a front belongs to (search names hold no '/').</summary>
    public static string SearchOf(string paretoKey) => paretoKey[..paretoKey.IndexOf('/', StringComparison.Ordinal)];

    /// <summary>The device key of a front: all after the scale (search names and scales hold no '/').</summary>
    public static string DeviceOf(string paretoKey) => paretoKey.Split('/', 3)[2];

    /// <summary>The id of a front's confirmation job (in its device's pool).</summary>
    public static string ConfirmationJobId(string paretoKey) => $"{paretoKey}/confirm";

    /// <summary>What a confirmation job's payload starts with: the rest is the front's key (a candidate's payload is its key).</summary>
    public const string ConfirmationPayloadPrefix = "front:";

    public static string ConfirmationPayload(string paretoKey) => ConfirmationPayloadPrefix + paretoKey;

    /// <summary>The front whose confirmation a job payload names, or null for a candidate's job.</summary>
    public static string? ConfirmedFront(string payload) =>
        payload.StartsWith(ConfirmationPayloadPrefix, StringComparison.Ordinal) ? payload[ConfirmationPayloadPrefix.Length..] : null;
}

/// <summary>The kinds of <see cref="Artifact"/> a trainer stores for a candidate.</summary>
public static class ArtifactKinds
{
    /// <summary>The best float checkpoint (the TorchSharp training's own format).</summary>
    public const string FloatCheckpoint = "float-checkpoint";

    /// <summary>The float ONNX graph.</summary>
    public const string FloatOnnx = "float-onnx";

    /// <summary>The QDQ int8 ONNX graph with uint8 activations (what x86 devices measure): the model a user came for.</summary>
    public const string Int8Onnx = "int8-onnx";

    /// <summary>The same int8 network with int8 activations (what ARM devices measure), exported when the spec's devices need it.</summary>
    public const string Int8OnnxInt8Activations = "int8-onnx-int8-activations";

    /// <summary>The int8 graph of activation type <paramref name="activations"/> (<see cref="ActivationTypes"/>).</summary>
    public static string Int8OnnxOf(string activations) => activations == ActivationTypes.Int8 ? Int8OnnxInt8Activations : Int8Onnx;

    /// <summary>The float training's records (loss, learning rate, validation PSNR per step; CSV).</summary>
    public const string TrainingRecord = "training-record";

    /// <summary>The validation images the trainer scored on (a zip), which a device scores its own int8 output on.</summary>
    public const string ValidationImages = "validation-images";

    public static IReadOnlyList<string> All { get; } = [FloatCheckpoint, FloatOnnx, Int8Onnx, TrainingRecord];
}
