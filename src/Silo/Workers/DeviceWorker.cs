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

    /// <summary>How often the lease of a measurement is renewed (at least three times per lease period).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the worker tells the device registry it is alive.</summary>
    public TimeSpan RegistryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a measurement or failure is retried while the coordinator does not answer.</summary>
    public TimeSpan ReportPatience { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Measurements run side by side (1 for real latency, which must not share the CPU; more only for simulated work).</summary>
    public int Concurrency { get; set; } = 1;

    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}-device";

    /// <summary>Where fetched models are kept (remote artifacts are downloaded here; local ones are read in place).</summary>
    public string ArtifactFolder { get; set; } = Path.Combine(Environment.CurrentDirectory, ".srmobile", "device");
}

/// <summary>
/// Measures candidates on this machine for one device key with the <see cref="ICandidateMeasurer"/> (the real
/// <see cref="EngineMeasurer"/>, or <see cref="SimulatedWork"/>) and reports to the candidate (which feeds the
/// device's Pareto front and completes the lease). The lease is renewed for the whole measurement (the protocol's
/// max_seconds may be longer than a lease).
/// </summary>
public sealed class DeviceWorker(IGrainFactory grains, ICandidateMeasurer measurer, IOptions<DeviceOptions> options, ILogger<DeviceWorker> log, MachineGate? gate = null)
    : LeasingWorker(grains, log, gate)
{
    protected override string Pool => CandidateSpec.DevicePool(options.Value.Key);
    protected override string WorkerId => options.Value.WorkerId;
    protected override TimeSpan PollInterval => options.Value.PollInterval;
    protected override int Concurrency => options.Value.Concurrency;
    protected override TimeSpan HeartbeatInterval => options.Value.HeartbeatInterval;
    protected override TimeSpan ReportPatience => options.Value.ReportPatience;

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
                await Task.Delay(options.Value.RegistryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    protected override async Task Work(JobLease lease, LeaseKeeper keeper, CancellationToken stoppingToken)
    {
        var candidate = Candidate(lease);
        var started = await Contained($"starting {lease.JobId}", () => candidate.MeasurementStarted(lease), ReportPatience, keeper.Token);
        if (!Taken(started, lease, "the start"))
        {
            await Contained($"handing back {lease.JobId}", () => Grains.GetGrain<IWorkQueueGrain>(Pool).Release(lease.LeaseId, started?.Reason ?? "no answer"), TimeSpan.FromSeconds(10), CancellationToken.None);
            return;
        }
        var view = started!.View!;
        if (view.Spec is null || view.Trained is null)
            throw new InvalidDataException($"candidate {view.Key} is measuring without a trained model");
        keeper.Report(new JobProgress("measuring", 0, 0, null));
        var measurement = await measurer.Measure(options.Value.Key, view.Spec, view.Trained, keeper.Token);
        Taken(await Contained($"reporting {lease.JobId}", () => candidate.Measured(lease, measurement), ReportPatience, CancellationToken.None), lease, "the measurement");
    }
}
