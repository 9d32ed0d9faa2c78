using Microsoft.Extensions.Options;
using SrMobile.Contracts;

namespace SrMobile.Workers;

/// <summary>Device role settings (configuration section <c>SrMobile:Device</c>).</summary>
public sealed class DeviceOptions
{
    public const string Section = "SrMobile:Device";

    /// <summary>
    /// The device key this worker measures for (the embedded default measures this machine as <c>local</c>). With a
    /// <see cref="Token"/> it may be empty: the token's key is taken; given, it must be the token's.
    /// </summary>
    public string Key { get; set; } = "local";

    /// <summary>
    /// The join token (<c>srmobile device token create</c>). A silo's device worker without one issues itself a member
    /// token (it is inside the cluster, holding its storage credential); an agent must be given one.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>
    /// The command that starts the engine's child process (then <c>engine REQUEST RESULT</c> follows), so a model that
    /// crashes or hangs the engine fails only its measurement; the agent sets its own executable. Empty: the engine
    /// runs in this process. On a board a prefix such as <c>taskset -c 4-7</c> pins the measurement to the big cores.
    /// </summary>
    public string[]? EngineLauncher { get; set; }

    /// <summary>How long an isolated engine run may take (default: the protocol's max_seconds plus 5 minutes).</summary>
    public TimeSpan? EngineTimeout { get; set; }

    /// <summary>
    /// The activation type of the int8 graph this worker measures (uint8 or int8) when the spec's <c>activations</c>
    /// does not name one for its key; empty: what this machine's architecture runs best (int8 on ARM, uint8 on x86).
    /// </summary>
    public string? Activations { get; set; }

    /// <summary>A measurement whose coefficient of variation is above this is run again (up to <see cref="MaxRepeats"/> times; the lowest-CoV run is kept).</summary>
    public double MaxCov { get; set; } = 0.05;

    public int MaxRepeats { get; set; } = 2;

    /// <summary>The canary: at start and every <see cref="CanaryOptions.Every"/> measurements.</summary>
    public CanaryOptions Canary { get; set; } = new();

    /// <summary>This worker runs under emulation (qemu-user): its facts say so, so its numbers are never taken for a board's.</summary>
    public bool Emulated { get; set; }

    /// <summary>Stop the whole process (exit code 3) when the cluster refuses this worker (the agent); a silo only stops the worker.</summary>
    public bool ExitWhenRefused { get; set; }

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
/// <see cref="EngineMeasurer"/>, or <see cref="SimulatedMeasurer"/>) and reports to the candidate (which feeds the
/// device's Pareto front and completes the lease). It joins the device registry with its token first and does
/// everything under that session; when the cluster refuses the session (the token revoked or expired, the name taken
/// over) it stops leasing and says why. The lease is renewed for the whole measurement (the protocol's max_seconds may
/// be longer than a lease).
/// </summary>
public sealed class DeviceWorker(
    IGrainFactory grains, ICandidateMeasurer measurer, DeviceSessionHolder sessions, IOptions<DeviceOptions> options, ILogger<DeviceWorker> log,
    IHostApplicationLifetime lifetime, MachineGate? gate = null)
    : LeasingWorker(grains, log, gate)
{
    private CancellationTokenSource? refused;

    protected override string Pool => CandidateSpec.DevicePool(sessions.Current?.DeviceKey ?? options.Value.Key);
    protected override string WorkerId => options.Value.WorkerId;
    protected override TimeSpan PollInterval => options.Value.PollInterval;
    protected override int Concurrency => options.Value.Concurrency;
    protected override TimeSpan HeartbeatInterval => options.Value.HeartbeatInterval;
    protected override TimeSpan ReportPatience => options.Value.ReportPatience;

    /// <summary>Why the cluster refused this worker; null while it has not.</summary>
    public string? Refusal { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        refused = stop;
        await Task.WhenAll(StayJoined(stop.Token), Lease(stop.Token));
        if (Refusal is not null && options.Value.ExitWhenRefused && !stoppingToken.IsCancellationRequested)
        {
            Environment.ExitCode = 3;
            lifetime.StopApplication();
        }
    }

    /// <summary>The leasing loops, once the worker has joined (its session names the pool).</summary>
    private async Task Lease(CancellationToken stoppingToken)
    {
        try
        {
            await sessions.Joined(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (options.Value.Canary.Every > 0)
        {
            using (Gate is null ? null : await Gate.Enter(stoppingToken))
                await RunCanary(stoppingToken);
        }
        await base.ExecuteAsync(stoppingToken);
    }

    /// <summary>The device's canary reading now (null before the first run, or with simulated work).</summary>
    public CanaryReading? CanaryNow { get; private set; }

    private int measuredSinceCanary;

    /// <summary>
    /// Runs the canary and stores it with the registry, which answers the drift from this worker's first run. A canary
    /// that fails is logged and leaves the last reading: it watches the machine, it is no measurement of anyone's.
    /// </summary>
    private async Task RunCanary(CancellationToken cancellation)
    {
        measuredSinceCanary = 0;
        try
        {
            if (await measurer.Canary(cancellation) is not { } run)
                return;
            var reading = await Contained("storing the canary", () => Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).Canary(sessions.Current!.Id, run), ReportPatience, cancellation);
            if (reading is null)
                return;
            CanaryNow = reading;
            if (reading.Flagged)
                Log.LogWarning("{Name}: canary {Median:F2} ms drifted {Drift:P1} from its baseline {Baseline:F2} ms ({Since:u}): this machine is not what it was",
                    options.Value.WorkerId, reading.MedianMs, reading.Drift, reading.BaselineMs, reading.BaselineUtc);
            else
                Log.LogInformation("{Name}: canary {Median:F2} ms (CoV {Cov:P1}), drift {Drift:P1} from {Baseline:F2} ms", options.Value.WorkerId, reading.MedianMs, reading.Cov, reading.Drift, reading.BaselineMs);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.LogWarning("{Name}: the canary failed: {Error}", options.Value.WorkerId, e.Message);
        }
    }

    protected override async Task<JobLease?> Lease(IWorkQueueGrain queue, string workerId)
    {
        try
        {
            return await queue.Lease(workerId, sessions.Current!.Id);
        }
        catch (DeviceSessionRefusedException e)
        {
            Refuse(e.Message);
            return null;
        }
    }

    private void Refuse(string reason)
    {
        if (Refusal is not null)
            return;
        Refusal = reason;
        Log.LogCritical("device worker {Name} stops leasing: {Reason}", options.Value.WorkerId, reason);
        refused?.Cancel();
    }

    /// <summary>Joins the device registry with the token, then heartbeats; a refusal of either stops the worker.</summary>
    private async Task StayJoined(CancellationToken stoppingToken)
    {
        var registry = Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);
        var settings = options.Value;
        var registration = new DeviceRegistration(settings.Key, settings.WorkerId, measurer.Engine, DeviceFacts.Detect(settings.Emulated));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var answer = sessions.Current is { } session
                    ? await registry.Heartbeat(session.Id)
                    : await registry.Join(registration, settings.Token ?? await MemberToken(settings));
                if (!answer.Live)
                {
                    Refuse(answer.Refusal!);
                    return;
                }
                if (sessions.Current is null)
                    Log.LogInformation("{Name} joined as a device worker for '{Key}' (token {Token})", settings.WorkerId, answer.Session!.DeviceKey, answer.Session.TokenId);
                sessions.Set(answer.Session!);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.LogWarning("device registry unreachable ({Error}); retrying", e.Message);
            }
            try
            {
                await Task.Delay(sessions.Current is null ? TimeSpan.FromSeconds(1) : settings.RegistryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A silo's own token for its device worker (replacing the one it issued itself before).</summary>
    private async Task<string> MemberToken(DeviceOptions settings) =>
        (await Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Create(settings.Key, null, member: settings.WorkerId)).Secret;
    protected override async Task Work(JobLease lease, LeaseKeeper keeper, CancellationToken stoppingToken)
    {
        if (ParetoKeys.ConfirmedFront(lease.Payload) is { } front)
            await Confirm(front, lease, keeper);
        else
            await Measure(lease, keeper);
        // Still holding the machine (its gate), so the canary shares the CPU with nothing either.
        if (options.Value.Canary.Every > 0 && ++measuredSinceCanary >= options.Value.Canary.Every)
            await RunCanary(stoppingToken);
    }

    private async Task Measure(JobLease lease, LeaseKeeper keeper)
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
        var measurement = await measurer.Measure(sessions.Current!.DeviceKey, view.Spec, view.Trained, keeper.Token) with { Canary = CanaryNow };
        Taken(await Contained($"reporting {lease.JobId}", () => candidate.Measured(lease, measurement), ReportPatience, CancellationToken.None), lease, "the measurement");
    }

    /// <summary>
    /// A front's confirmation: the planned candidates' graphs measured again, interleaved in one session, reported to
    /// the front (which shows these medians from then on).
    /// </summary>
    private async Task Confirm(string front, JobLease lease, LeaseKeeper keeper)
    {
        var pareto = Grains.GetGrain<IParetoGrain>(front);
        var plan = await Contained($"starting {lease.JobId}", () => pareto.ConfirmationStarted(lease), ReportPatience, keeper.Token);
        if (plan is not { Accepted: true })
        {
            if (plan is not null)
                Log.LogWarning("the start of {Job} was refused: {Reason}", lease.JobId, plan.Reason);
            await Contained($"handing back {lease.JobId}", () => Grains.GetGrain<IWorkQueueGrain>(Pool).Release(lease.LeaseId, plan?.Reason ?? "no answer"), TimeSpan.FromSeconds(10), CancellationToken.None);
            return;
        }
        var candidates = new List<CandidateView>();
        foreach (var key in plan.Candidates)
            candidates.Add(await Contained($"reading {key}", () => Grains.GetGrain<ICandidateGrain>(key).Get(), ReportPatience, keeper.Token)
                ?? throw new TimeoutException($"candidate {key} of {front} did not answer"));
        keeper.Report(new JobProgress("confirming", 0, 0, null));
        var canary = CanaryNow;
        var times = (await measurer.Confirm(sessions.Current!.DeviceKey, candidates, keeper.Token)).Select(t => t with { Canary = canary }).ToList();
        Taken(await Contained($"reporting {lease.JobId}", () => pareto.Confirmed(lease, times), ReportPatience, CancellationToken.None), lease, "the confirmation");
        Log.LogInformation("{Front}: confirmed {Count} candidates interleaved: {Times}", front, times.Count,
            string.Join(", ", times.Select(t => FormattableString.Invariant($"{t.CandidateKey} {t.MedianMs:F2} ms"))));
    }
}
