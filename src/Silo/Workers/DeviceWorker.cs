using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Onnx;

namespace SrMobile.Silo.Workers;

/// <summary>Device role settings (configuration section <c>SrMobile:Device</c>).</summary>
public sealed class DeviceOptions
{
    public const string Section = "SrMobile:Device";

    /// <summary>The device key this worker measures for (the embedded default measures this machine as <c>local</c>).</summary>
    public string Key { get; set; } = "local";

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}-device";

    /// <summary>Where fetched models are kept (remote artifacts are downloaded here; local ones are read in place).</summary>
    public string ArtifactFolder { get; set; } = Path.Combine(Environment.CurrentDirectory, ".srmobile", "device");
}

/// <summary>
/// Measures candidates on this machine for one device key: fetches the int8 model from the artifact store (which
/// verifies its SHA-256), runs the stored latency protocol on the int8 engine, scores the engine's own output on the
/// validation images, and reports to the candidate (which feeds the device's Pareto front). Latency runs are short,
/// so no heartbeat is needed beyond the lease itself; the protocol's max_seconds bounds a run.
/// </summary>
public sealed class DeviceWorker(IGrainFactory grains, IOptions<DeviceOptions> options, ILogger<DeviceWorker> log, IArtifactStore artifacts) : LeasingWorker(grains, log)
{
    private static readonly JsonSerializerOptions Json = new();

    protected override string Pool => CandidateSpec.DevicePool(options.Value.Key);
    protected override string WorkerId => options.Value.WorkerId;
    protected override TimeSpan PollInterval => options.Value.PollInterval;

    protected override async Task Run(IWorkQueueGrain queue, JobLease lease, CancellationToken stoppingToken)
    {
        var candidate = Grains.GetGrain<ICandidateGrain>(lease.Payload);
        try
        {
            var view = await candidate.Get();
            if (view.Stage != CandidateStage.Measuring || view.Spec is null || view.Trained is null)
            {
                await queue.Complete(lease.LeaseId, $"skipped: candidate is {view.Stage}");
                return;
            }
            var model = await artifacts.Fetch(view.Trained.Artifacts.Single(a => a.Kind == "int8-onnx"), options.Value.ArtifactFolder, stoppingToken);
            var measurement = await Task.Run(() => Measure(view.Spec, model), stoppingToken);
            if (!await candidate.RecordMeasurement(measurement))
                throw new InvalidOperationException($"candidate {view.Key} refused the measurement");
            await queue.Complete(lease.LeaseId, JsonSerializer.Serialize(measurement, Json));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.LogError(e, "measuring {Candidate} failed", lease.Payload);
            await queue.Fail(lease.LeaseId, e.Message, retry: false);
        }
    }

    private DeviceMeasurement Measure(CandidateSpec spec, string path)
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
        return new DeviceMeasurement(options.Value.Key, latency.MedianMs, latency.P90Ms, latency.Runs, latency.Engine,
            quality.Mean.Psnr, quality.Mean.Ssim, JsonSerializer.Serialize(latency, Json));
    }
}
