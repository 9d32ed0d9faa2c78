using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class DeviceRecord
{
    [Id(0)] public DeviceRegistration Registration { get; set; } = null!;
    [Id(1)] public DateTimeOffset RegisteredUtc { get; set; }

    /// <summary>The join token this worker came in with; it holds the worker's name while it is live.</summary>
    [Id(2)] public string? TokenId { get; set; }

    /// <summary>The worker's current session (a newer join of the same name replaces it).</summary>
    [Id(3)] public Guid? Session { get; set; }

    [Id(4)] public long JobsDone { get; set; }
    [Id(5)] public long JobsFailed { get; set; }
    [Id(6)] public int ConsecutiveFailures { get; set; }

    /// <summary>Why the worker is quarantined (it gets no leases until released); null when it is not.</summary>
    [Id(7)] public string? Quarantine { get; set; }

    /// <summary>The worker's canary: its baseline (its first run of this signature) and its latest run.</summary>
    [Id(8)] public CanaryReading? Canary { get; set; }
}

[GenerateSerializer]
public sealed class DeviceRegistryState
{
    [Id(0)] public Dictionary<string, DeviceRecord> Workers { get; set; } = [];
}

/// <summary>Device registry settings (configuration section <c>SrMobile:Devices</c>).</summary>
public sealed class DeviceRegistryOptions
{
    public const string Section = "SrMobile:Devices";

    /// <summary>A worker with no heartbeat for this long shows offline (after half of it, stale).</summary>
    public TimeSpan OfflineAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A worker whose measurements failed this many times in a row is quarantined (no leases until released).</summary>
    public int QuarantineAfter { get; set; } = 3;

    /// <summary>A canary more than this fraction off its baseline flags the device (and every number it takes meanwhile).</summary>
    public double MaxCanaryDrift { get; set; } = 0.05;
}

/// <summary>
/// See <see cref="IDeviceRegistryGrain"/>. Registrations and sessions are stored (a session outlives a coordinator
/// restart; its token's standing is asked of <see cref="IDeviceTokensGrain"/> at every check, so a revocation holds at
/// the next call); heartbeats only touch memory (storing a
/// timestamp every few seconds per board would be all the registry ever wrote), so after a restart every worker
/// shows offline until its next heartbeat, which is the truth.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class DeviceRegistryGrain(
    [PersistentState("devices", WorkQueueGrain.StorageName)] IPersistentState<DeviceRegistryState> state,
    IOptions<DeviceRegistryOptions> options,
    SrMobileMetrics metrics,
    ILogger<DeviceRegistryGrain> logger) : Grain, IDeviceRegistryGrain
{
    private readonly ClusterObservers observers = new(logger);

    private readonly Dictionary<string, DateTimeOffset> lastSeen = [];

    /// <summary>Live sessions by id: the worker's name.</summary>
    private readonly Dictionary<Guid, string> sessions = [];

    /// <summary>The job each busy worker is measuring (memory only: after a restart a worker shows busy again at its next lease).</summary>
    private readonly Dictionary<string, string> busy = [];

    private IDeviceTokensGrain Tokens => GrainFactory.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var (workerId, record) in state.State.Workers)
        {
            // Known but unheard since this activation: offline until their next heartbeat, as List says.
            metrics.DeviceSeen(workerId, record.Registration.DeviceKey, null, options.Value.OfflineAfter);
            if (record.Session is { } session)
                sessions[session] = workerId;
        }
        return Task.CompletedTask;
    }

    public async Task<DeviceSessionAnswer> Join(DeviceRegistration registration, string token)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registration.WorkerId, "name");
        var name = registration.WorkerId;
        var check = await Tokens.Check(token);
        if (!check.Valid)
            return DeviceSessionAnswer.Refused($"{name} cannot join: {check.Refusal}");
        var issued = check.Token!;
        if (!string.IsNullOrWhiteSpace(registration.DeviceKey) && registration.DeviceKey != issued.DeviceKey)
            return DeviceSessionAnswer.Refused($"{name} cannot join: token {issued.Id} is for device key '{issued.DeviceKey}', not '{registration.DeviceKey}'");
        var known = state.State.Workers.GetValueOrDefault(name);
        if (known?.TokenId is { } holder && holder != issued.Id && (await Tokens.Live(holder)).Valid)
            return DeviceSessionAnswer.Refused($"{name} cannot join: the name is held by another agent's token {holder} (choose another name, or revoke {holder})");
        var session = new DeviceSession(Guid.NewGuid(), issued.DeviceKey, name, issued.Id);
        var now = DateTimeOffset.UtcNow;
        state.State.Workers[name] = new DeviceRecord
        {
            Registration = registration with { DeviceKey = issued.DeviceKey },
            RegisteredUtc = known?.RegisteredUtc ?? now,
            TokenId = issued.Id,
            Session = session.Id,
            JobsDone = known?.JobsDone ?? 0,
            JobsFailed = known?.JobsFailed ?? 0,
            ConsecutiveFailures = known?.ConsecutiveFailures ?? 0,
            // A quarantine outlives a restart of the agent: only a release lifts it.
            Quarantine = known?.Quarantine,
            // So does the canary's baseline: drift is measured from the device's first run, not the agent's.
            Canary = known?.Canary,
        };
        await Write();
        if (known?.Session is { } replaced)
            sessions.Remove(replaced);
        sessions[session.Id] = name;
        lastSeen[name] = now;
        metrics.DeviceSeen(name, issued.DeviceKey, now, options.Value.OfflineAfter);
        observers.Notify(new ClusterChange(null, DeviceWorker: name));
        return new DeviceSessionAnswer(session, null, state.State.Workers[name].Quarantine);
    }

    public async Task<DeviceSessionAnswer> Check(Guid session)
    {
        if (!sessions.TryGetValue(session, out var name) || state.State.Workers.GetValueOrDefault(name) is not { TokenId: { } tokenId } record)
            return DeviceSessionAnswer.Refused($"device session {session} is unknown (never issued, or replaced by a newer join of its name)");
        var standing = await Tokens.Live(tokenId);
        return standing.Valid
            ? new DeviceSessionAnswer(new DeviceSession(session, record.Registration.DeviceKey, name, tokenId), null, record.Quarantine)
            : DeviceSessionAnswer.Refused($"the session of {name} no longer holds: {standing.Refusal}");
    }

    public async Task<DeviceSessionAnswer> Heartbeat(Guid session)
    {
        var answer = await Check(session);
        if (!answer.Live)
            return answer;
        var name = answer.Session!.Name;
        var wasOffline = !lastSeen.TryGetValue(name, out var before) || DateTimeOffset.UtcNow - before >= options.Value.OfflineAfter;
        lastSeen[name] = DateTimeOffset.UtcNow;
        if (wasOffline)
            observers.Notify(new ClusterChange(null, DeviceWorker: name));
        metrics.DeviceSeen(name, answer.Session.DeviceKey, lastSeen[name], options.Value.OfflineAfter);
        return answer;
    }

    public Task<IReadOnlyList<DeviceWorkerView>> List()
    {
        var now = DateTimeOffset.UtcNow;
        IReadOnlyList<DeviceWorkerView> views = state.State.Workers
            .OrderBy(w => w.Value.Registration.DeviceKey, StringComparer.Ordinal).ThenBy(w => w.Key, StringComparer.Ordinal)
            .Select(w =>
            {
                var seen = lastSeen.GetValueOrDefault(w.Key, w.Value.RegisteredUtc);
                var online = lastSeen.ContainsKey(w.Key) && now - seen < options.Value.OfflineAfter;
                var job = busy.GetValueOrDefault(w.Key);
                var health = w.Value.Quarantine is not null ? DeviceHealth.Quarantined
                    : !online ? DeviceHealth.Offline
                    : now - seen >= options.Value.OfflineAfter / 2 ? DeviceHealth.Stale
                    : job is not null ? DeviceHealth.Busy
                    : DeviceHealth.Online;
                var r = w.Value;
                return new DeviceWorkerView(r.Registration, r.RegisteredUtc, seen, online, r.TokenId, health, r.JobsDone, r.JobsFailed, r.ConsecutiveFailures, r.Quarantine, job, r.Canary);
            })
            .ToList();
        return Task.FromResult(views);
    }

    public Task Leased(Guid session, string jobId)
    {
        if (sessions.TryGetValue(session, out var name))
        {
            busy[name] = jobId;
            observers.Notify(new ClusterChange(null, DeviceWorker: name));
        }
        return Task.CompletedTask;
    }

    public async Task Ended(Guid session, string jobId, JobStatus outcome, string? error)
    {
        if (!sessions.TryGetValue(session, out var name) || state.State.Workers.GetValueOrDefault(name) is not { } record)
            return;
        if (busy.GetValueOrDefault(name) == jobId)
            busy.Remove(name);
        if (outcome == JobStatus.Completed)
        {
            record.JobsDone++;
            record.ConsecutiveFailures = 0;
        }
        else if (outcome == JobStatus.Failed)
        {
            record.JobsFailed++;
            if (++record.ConsecutiveFailures >= options.Value.QuarantineAfter && record.Quarantine is null)
            {
                record.Quarantine = $"{record.ConsecutiveFailures} measurements failed in a row, the last at {DateTimeOffset.UtcNow:u}: {error}";
                logger.LogWarning("device worker {Name} quarantined: {Reason}", name, record.Quarantine);
            }
        }
        if (outcome is JobStatus.Completed or JobStatus.Failed)
            await Write();
        observers.Notify(new ClusterChange(null, DeviceWorker: name));
    }

    public async Task<CanaryReading> Canary(Guid session, CanaryRun run)
    {
        var answer = await Check(session);
        if (!answer.Live)
            throw new DeviceSessionRefusedException(answer.Refusal!);
        if (!(run.MedianMs > 0) || !double.IsFinite(run.MedianMs))
            throw new ArgumentException($"a canary median must be a positive number of milliseconds, not {run.MedianMs}", nameof(run));
        var name = answer.Session!.Name;
        var record = state.State.Workers[name];
        var now = DateTimeOffset.UtcNow;
        // A new signature (another protocol, engine or activation type) starts a new baseline.
        var (baseline, since) = record.Canary is { } before && before.Signature == run.Signature ? (before.BaselineMs, before.BaselineUtc) : (run.MedianMs, now);
        var drift = (run.MedianMs / baseline) - 1;
        record.Canary = new CanaryReading(run.Signature, baseline, since, run.MedianMs, run.Cov, now, drift, Math.Abs(drift) > options.Value.MaxCanaryDrift);
        if (record.Canary.Flagged)
            logger.LogWarning("device worker {Name}: canary {Median:F2} ms is {Drift:P1} off its baseline {Baseline:F2} ms", name, run.MedianMs, drift, baseline);
        await Write();
        metrics.CanaryDrift(name, answer.Session.DeviceKey, drift);
        observers.Notify(new ClusterChange(null, DeviceWorker: name));
        return record.Canary;
    }

    public async Task<bool> Release(string name)
    {
        if (state.State.Workers.GetValueOrDefault(name ?? "") is not { } record)
            return false;
        if (record.Quarantine is not null || record.ConsecutiveFailures > 0)
        {
            record.Quarantine = null;
            record.ConsecutiveFailures = 0;
            await Write();
            observers.Notify(new ClusterChange(null, DeviceWorker: name));
        }
        return true;
    }

    private Task Write() => state.WriteOrDeactivate(this);

    public Task Subscribe(IClusterObserver observer) => observers.Subscribe(observer);

    public Task Unsubscribe(IClusterObserver observer) => observers.Unsubscribe(observer);
}
