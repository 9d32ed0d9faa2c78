using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Engine.Onnx;

namespace SrMobile.Silo.Workers;

/// <summary>Device role settings (configuration section <c>SrMobile:Device</c>).</summary>
public sealed class DeviceOptions
{
    public const string Section = "SrMobile:Device";

    /// <summary>The device key this worker measures for (the embedded default measures this machine as <c>local</c>).</summary>
    public string Key { get; set; } = "local";

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the worker tells the device registry it is alive.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Measurements run side by side (1 for real latency, which must not share the CPU; more only for simulated work).</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>Attempts in all for a job whose measurement failed (not for bad input such as a wrong hash).</summary>
    public int MaxAttempts { get; set; } = 3;
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}-device";

    /// <summary>Where fetched models are kept (remote artifacts are downloaded here; local ones are read in place).</summary>
    public string ArtifactFolder { get; set; } = Path.Combine(Environment.CurrentDirectory, ".srmobile", "device");
}

/// <summary>
/// Measures candidates on this machine for one device key with the <see cref="ICandidateMeasurer"/> (the real
/// <see cref="EngineMeasurer"/>, or <see cref="SimulatedWork"/>) and reports to the candidate (which feeds the
/// device's Pareto front). Latency runs are short, so no heartbeat is needed beyond the lease itself; the
/// protocol's max_seconds bounds a run.
/// </summary>
public sealed class DeviceWorker(IGrainFactory grains, ICandidateMeasurer measurer, IOptions<DeviceOptions> options, ILogger<DeviceWorker> log, MachineGate? gate = null)
    : LeasingWorker(grains, log, gate)
{
    private static readonly JsonSerializerOptions Json = new();

    protected override string Pool => CandidateSpec.DevicePool(options.Value.Key);
    protected override string WorkerId => options.Value.WorkerId;
    protected override TimeSpan PollInterval => options.Value.PollInterval;
    protected override int Concurrency => options.Value.Concurrency;
    protected override int MaxAttempts => options.Value.MaxAttempts;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(StayRegistered(stoppingToken), base.ExecuteAsync(stoppingToken));

    /// <summary>Registers with the device registry, then heartbeats; registers again when the registry does not know it.</summary>
    private async Task StayRegistered(CancellationToken stoppingToken)
    {
        var registry = Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);
        var registration = new DeviceRegistration(options.Value.Key, options.Value.WorkerId, measurer.Engine, LatencyMeasurement.Environment());
        var registered = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                registered = registered && await registry.Heartbeat(registration.WorkerId);
                if (!registered)
                {
                    await registry.Register(registration);
                    registered = true;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.LogWarning(e, "device registry unreachable; retrying");
            }
            try
            {
                await Task.Delay(options.Value.HeartbeatInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

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
            var measurement = await measurer.Measure(options.Value.Key, view.Spec, view.Trained, stoppingToken);
            if (!await candidate.RecordMeasurement(measurement))
                throw new InvalidOperationException($"candidate {view.Key} refused the measurement");
            await queue.Complete(lease.LeaseId, JsonSerializer.Serialize(measurement, Json));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var retry = WorthRetrying(e, lease);
            Log.LogError(e, "measuring {Candidate} failed (attempt {Attempt}{Retry})", lease.Payload, lease.Attempt, retry ? ", requeued" : "");
            await queue.Fail(lease.LeaseId, e.Message, retry);
            // A measurement that cannot be made fails the candidate: its search must not wait for it.
            if (!retry)
                await candidate.MoveTo(CandidateStage.Failed, $"{options.Value.Key}: {e.Message}");
        }
    }
}
