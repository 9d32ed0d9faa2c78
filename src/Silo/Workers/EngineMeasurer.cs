using System.Text.Json;
using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Onnx;

namespace SrMobile.Silo.Workers;

/// <summary>
/// Measures on this machine with the int8 engine: fetches the int8 model from the artifact store (which verifies
/// its SHA-256), runs the stored latency protocol, and scores the engine's own output on the validation images.
/// </summary>
public sealed class EngineMeasurer(IArtifactStore artifacts, IOptions<DeviceOptions> options) : ICandidateMeasurer
{
    private static readonly JsonSerializerOptions Json = new();

    public string Engine => $"onnxruntime {SrEngine.RuntimeVersion}";

    public async Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation)
    {
        var path = await artifacts.Fetch(trained.Artifacts.Single(a => a.Kind == "int8-onnx"), options.Value.ArtifactFolder, cancellation);
        return await Task.Run(() => Measure(device, spec, path), cancellation);
    }

    private static DeviceMeasurement Measure(string device, CandidateSpec spec, string path)
    {
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
