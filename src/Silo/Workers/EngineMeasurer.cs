using System.Security.Cryptography;
using System.Text.Json;
using SrMobile.Contracts;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Onnx;

namespace SrMobile.Silo.Workers;

/// <summary>
/// Measures on this machine with the int8 engine: verifies the int8 model's SHA-256, runs the stored latency
/// protocol, and scores the engine's own output on the validation images.
/// </summary>
public sealed class EngineMeasurer : ICandidateMeasurer
{
    private static readonly JsonSerializerOptions Json = new();

    public string Engine => $"onnxruntime {SrEngine.RuntimeVersion}";

    public DeviceMeasurement Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation)
    {
        var artifact = trained.Artifacts.Single(a => a.Kind == "int8-onnx");
        var path = new Uri(artifact.Uri).LocalPath;
        var sha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();
        if (sha != artifact.Sha256)
            throw new InvalidDataException($"{path}: SHA-256 {sha} differs from the recorded {artifact.Sha256}");
        var p = spec.Protocol;
        var protocol = new LatencyProtocol
        {
            Height = p.Height,
            Width = p.Width,
            Threads = p.Threads,
            Warmup = p.Warmup,
            MinRuns = p.MinRuns,
            MinSeconds = p.MinSeconds,
            MaxSeconds = p.MaxSeconds,
        };
        var latency = LatencyMeasurement.Measure([path], protocol)[0];
        using var engine = SrEngine.Load(path, new EngineOptions { Threads = p.Threads });
        var quality = DatasetEvaluation.Run(spec.Datasets.Validation ?? spec.Datasets.Train, spec.Scale, ProtocolKind.Y, "int8", engine.Upscale);
        return new DeviceMeasurement(device, latency.MedianMs, latency.P90Ms, latency.Runs, latency.Engine,
            quality.Mean.Psnr, quality.Mean.Ssim, JsonSerializer.Serialize(latency, Json));
    }
}
