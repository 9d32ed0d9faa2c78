using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using SrMobile.Contracts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class JobRecord
{
    [Id(0)] public string JobId { get; set; } = "";
    [Id(1)] public int Priority { get; set; }
    [Id(2)] public long Sequence { get; set; }
    [Id(3)] public string Payload { get; set; } = "";
    [Id(4)] public JobStatus Status { get; set; }

    /// <summary>How many leases the job has had: the epoch of its newest lease.</summary>
    [Id(5)] public int Epoch { get; set; }
    [Id(6)] public int LostLeases { get; set; }
    [Id(7)] public Guid? LeaseId { get; set; }
    [Id(8)] public string? WorkerId { get; set; }
    [Id(9)] public DateTimeOffset? ExpiresUtc { get; set; }
    [Id(10)] public JobProgress? Progress { get; set; }
    [Id(11)] public string? Result { get; set; }
    [Id(12)] public List<string> Errors { get; set; } = [];

    /// <summary>The owner cancelled the job while it was leased: the next heartbeat tells the worker.</summary>
    [Id(13)] public bool CancelRequested { get; set; }

    /// <summary>The lease that ended the job: the same owner's call again (its answer was lost) is accepted once more.</summary>
    [Id(14)] public Guid? EndedBy { get; set; }
    [Id(15)] public DateTimeOffset? QueuedSinceUtc { get; set; }
    [Id(16)] public DateTimeOffset? EndedUtc { get; set; }

    /// <summary>The device session the current lease was granted under (device pools only).</summary>
    [Id(17)] public Guid? Session { get; set; }

    public bool Settled => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}

/// <summary>
/// See <see cref="IWorkQueueGrain"/>. Jobs are stored in pages (<see cref="PagedState{T}"/>, in arrival order), so a
/// change writes the page of the job it touches, whatever the queue's length. Queued jobs are kept in an in-memory
/// index ordered by (priority descending, arrival), rebuilt from the pages on activation. A page whose jobs have all
/// ended leaves memory (it is read back if one of its jobs is asked for or queued again), so a queue that has run
/// 100,000 jobs holds the ones still queued or leased, an id → position index and counts. Expired leases are
/// reclaimed on every call and by a timer; while the queue has unfinished jobs a reminder keeps it coming back after a
/// restart, so a lease whose worker died is reclaimed even when nobody calls. A failed write deactivates the grain,
/// so the next call starts again from what is stored instead of from memory that storage never saw.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class WorkQueueGrain(IOptions<WorkQueueOptions> options, ILogger<WorkQueueGrain> log, SrMobileMetrics metrics) : Grain, IWorkQueueGrain, IRemindable
{
    public const string StorageName = "srmobile";
    private const string ReclaimReminder = "reclaim";

    private readonly SortedSet<(int NegativePriority, long Sequence, string JobId)> queued = [];
    private readonly Dictionary<Guid, string> leases = [];
    private readonly Dictionary<string, int> index = [];
    private readonly Dictionary<JobStatus, int> ended = [];
    private readonly Dictionary<Guid, (int Position, DateTimeOffset EndedUtc)> endedBy = [];
    private PagedState<JobRecord> jobs = null!;
    private bool reminderSet;
    private DateTimeOffset? lastPoll;
    private WorkQueueOptions Rules => options.Value;
    private string Pool => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        jobs = new PagedState<JobRecord>(ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageName), this.GetGrainId(), "queue");
        await jobs.Load();
        var position = 0;
        var remembered = DateTimeOffset.UtcNow - Rules.EndedLeaseMemory;
        foreach (var job in jobs.Items.ToList())
        {
            index[job.JobId] = position;
            if (job.Status == JobStatus.Queued)
                queued.Add(Key(job));
            else if (job.Status == JobStatus.Leased && job.LeaseId is { } lease)
                leases[lease] = job.JobId;
            else if (job.Settled)
            {
                Count(job.Status, +1);
                if (job.EndedBy is { } by && job.EndedUtc > remembered)
                    endedBy[by] = (position, job.EndedUtc.Value);
            }
            EvictIfSettled(position++);
        }
        reminderSet = await this.GetReminder(ReclaimReminder) is not null;
        this.RegisterGrainTimer(Tick, new GrainTimerCreationOptions(Rules.ExpiryCheckPeriod, Rules.ExpiryCheckPeriod) { Interleave = false, KeepAlive = false });
        await KeepReminder();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.ForgetQueue(Pool);
        return Task.CompletedTask;
    }

    /// <summary>The reminder only brings the queue back (its activation and timer do the work).</summary>
    public Task ReceiveReminder(string reminderName, TickStatus status) => ReclaimExpired(CancellationToken.None);

    public async Task<bool> Enqueue(WorkItem item)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(item.JobId);
        if (index.TryGetValue(item.JobId, out var position))
        {
            var known = await jobs.Load(position);
            if (known.Status is JobStatus.Queued or JobStatus.Leased)
                return false;
            // Ended, yet its owner asks again: the owner never took the outcome (it crashed between the two writes).
            Count(known.Status, -1);
            known.Status = JobStatus.Queued;
            known.EndedBy = null;
            known.EndedUtc = null;
            known.CancelRequested = false;
            known.QueuedSinceUtc = DateTimeOffset.UtcNow;
            known.Errors.Add("queued again by its owner (the outcome never reached it)");
            await Save(known);
            queued.Add(Key(known));
            await KeepReminder();
            return true;
        }
        var job = new JobRecord
        {
            JobId = item.JobId,
            Priority = item.Priority,
            Sequence = jobs.Count,
            Payload = item.Payload,
            Status = JobStatus.Queued,
            QueuedSinceUtc = DateTimeOffset.UtcNow,
        };
        jobs.Add(job);
        await Save();
        index[job.JobId] = (int)job.Sequence;
        queued.Add(Key(job));
        await KeepReminder();
        return true;
    }

    public Task Waiting(string workerId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        lastPoll = DateTimeOffset.UtcNow;
        return Task.CompletedTask;
    }

    public async Task<JobLease?> Lease(string workerId, Guid? session = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        if (DeviceKey is { } deviceKey)
        {
            // A device pool leases only under a live session of its own device key.
            var answer = session is { } id ? await Registry.Check(id) : DeviceSessionAnswer.Refused("no device session (join with a token first)");
            if (!answer.Live)
                throw new DeviceSessionRefusedException($"{Pool}: lease refused to {workerId}: {answer.Refusal}");
            if (answer.Session!.DeviceKey != deviceKey)
                throw new DeviceSessionRefusedException($"{Pool}: lease refused to {workerId}: its session is for device key '{answer.Session.DeviceKey}'");
            // A quarantined worker gets nothing until it is released.
            if (answer.Quarantine is not null)
                return null;
        }
        lastPoll = DateTimeOffset.UtcNow;
        await ReclaimExpired(CancellationToken.None);
        if (queued.Count == 0)
            return null;
        var next = queued.Min;
        var job = Job(next.JobId);
        var lease = Guid.NewGuid();
        job.Status = JobStatus.Leased;
        job.LeaseId = lease;
        job.WorkerId = workerId;
        job.ExpiresUtc = DateTimeOffset.UtcNow + Rules.LeaseDuration;
        job.Epoch++;
        job.Progress = null;
        job.Session = session;
        var waited = DateTimeOffset.UtcNow - (job.QueuedSinceUtc ?? DateTimeOffset.UtcNow);
        await Save(job);
        queued.Remove(next);
        leases[lease] = job.JobId;
        if (session is { } leasedUnder)
            Registry.Leased(leasedUnder, job.JobId).Ignore();
        metrics.LeaseGranted(Pool, waited);
        metrics.QueueDepth(Pool, queued.Count, leases.Count);
        return new JobLease(job.JobId, lease, workerId, job.ExpiresUtc.Value, job.Epoch, job.Payload);
    }

    public async Task<LeaseOutcome> Renew(Guid leaseId, JobProgress progress)
    {
        if (progress.Problem() is { } problem)
            return LeaseOutcome.Rejected($"progress rejected: {problem}");
        await ReclaimExpired(CancellationToken.None);
        if (!TryLive(leaseId, out var job, out var rejection))
            return rejection;
        if (await SessionRefusal(job) is { } refused)
            return refused;
        job.ExpiresUtc = DateTimeOffset.UtcNow + Rules.LeaseDuration;
        job.Progress = progress;
        await Save(job);
        return new LeaseOutcome(true, null, job.ExpiresUtc, job.CancelRequested);
    }

    public Task<LeaseOutcome> Complete(Guid leaseId, string result) =>
        End(leaseId, "completed", JobStatus.Completed, job =>
        {
            job.Status = JobStatus.Completed;
            job.Result = result;
        });

    public Task<LeaseOutcome> Fail(Guid leaseId, string error, bool retry) =>
        End(leaseId, "failed", JobStatus.Failed, job =>
        {
            job.Errors.Add($"epoch {job.Epoch} ({job.WorkerId}): {error}");
            job.Status = retry && !job.CancelRequested ? JobStatus.Queued : JobStatus.Failed;
        });

    // Handing a job back needs no live session: it only gives the job to someone else sooner.
    public Task<LeaseOutcome> Release(Guid leaseId, string reason) =>
        End(leaseId, "released", JobStatus.Queued, job =>
        {
            job.Errors.Add($"epoch {job.Epoch} ({job.WorkerId}): handed back: {reason}");
            job.Status = job.CancelRequested ? JobStatus.Cancelled : JobStatus.Queued;
        });

    public async Task Cancel(string jobId)
    {
        // A job out of memory has ended: there is nothing left to cancel.
        if (!index.TryGetValue(jobId, out var position) || !jobs.IsResident(position))
            return;
        var job = jobs[position];
        if (job.Status == JobStatus.Queued)
        {
            queued.Remove(Key(job));
            job.Status = JobStatus.Cancelled;
            job.EndedUtc = DateTimeOffset.UtcNow;
            Count(JobStatus.Cancelled, +1);
            await Save(job);
            EvictIfSettled(position);
        }
        else if (job.Status == JobStatus.Leased && !job.CancelRequested)
        {
            job.CancelRequested = true;
            await Save(job);
        }
        await KeepReminder();
    }

    public async Task<JobView?> Get(string jobId)
    {
        if (!index.TryGetValue(jobId, out var position))
            return null;
        var view = View(await jobs.Load(position));
        EvictIfSettled(position);
        return view;
    }

    public Task<IReadOnlyList<JobView>> Leased() =>
        Task.FromResult<IReadOnlyList<JobView>>([.. leases.Values.Select(Job).OrderBy(j => j.Sequence).Select(View)]);

    public Task<QueueSummary> Summary()
    {
        DateTimeOffset? oldest = null;
        foreach (var (_, _, jobId) in queued)
        {
            if (Job(jobId).QueuedSinceUtc is { } since && (oldest is null || since < oldest))
                oldest = since;
        }
        return Task.FromResult(new QueueSummary(queued.Count, leases.Count, ended.GetValueOrDefault(JobStatus.Completed),
            ended.GetValueOrDefault(JobStatus.Failed), ended.GetValueOrDefault(JobStatus.Cancelled), oldest, lastPoll));
    }

    /// <summary>Ends a live lease (or accepts the same owner's call again when its answer was lost); <paramref name="how"/> names the end for the metrics.</summary>
    /// <remarks>
    /// <paramref name="report"/> is what the end says of the work (completed or failed: a worker's report, which needs
    /// its live device session; queued: handed back, which does not), as the device registry counts it.
    /// </remarks>
    private async Task<LeaseOutcome> End(Guid leaseId, string how, JobStatus report, Action<JobRecord> end)
    {
        await ReclaimExpired(CancellationToken.None);
        if (!TryLive(leaseId, out var job, out var rejection, endedCounts: true))
            return rejection;
        if (report != JobStatus.Queued && job.Status == JobStatus.Leased && await SessionRefusal(job) is { } refused)
            return refused;
        var session = job.Status == JobStatus.Leased ? job.Session : null;
        end(job);
        var now = DateTimeOffset.UtcNow;
        job.EndedBy = job.Settled ? leaseId : null;
        job.EndedUtc = job.Settled ? now : null;
        job.LeaseId = null;
        job.ExpiresUtc = null;
        job.Session = null;
        if (job.Status == JobStatus.Queued)
            job.QueuedSinceUtc = now;
        await Save(job);
        leases.Remove(leaseId);
        if (session is { } endedUnder)
            Registry.Ended(endedUnder, job.JobId, report, job.Errors.LastOrDefault()).Ignore();
        var position = index[job.JobId];
        if (job.Status == JobStatus.Queued)
        {
            queued.Add(Key(job));
            metrics.LeaseRequeued(Pool, how);
        }
        else
        {
            Count(job.Status, +1);
            endedBy[leaseId] = (position, now);
            EvictIfSettled(position);
        }
        await KeepReminder();
        return new LeaseOutcome(true, null);
    }

    /// <summary>The device key of a device pool (<see cref="CandidateSpec.DevicePool"/>); null for the trainer pool.</summary>
    private string? DeviceKey => Pool.StartsWith(CandidateSpec.DevicePoolPrefix, StringComparison.Ordinal) ? Pool[CandidateSpec.DevicePoolPrefix.Length..] : null;

    private IDeviceRegistryGrain Registry => GrainFactory.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);

    /// <summary>A lease granted under a device session is renewed and reported only while that session is live.</summary>
    private async Task<LeaseOutcome?> SessionRefusal(JobRecord job)
    {
        if (job.Session is not { } session)
            return null;
        var answer = await Registry.Check(session);
        return answer.Live ? null : LeaseOutcome.Rejected($"device session refused: {answer.Refusal}");
    }

    /// <summary>Requeues every job whose lease has expired, persists once if any did, then tells their owners.</summary>
    private async Task ReclaimExpired(CancellationToken cancellation)
    {
        var now = DateTimeOffset.UtcNow;
        var expired = leases.Where(l => Job(l.Value).ExpiresUtc <= now).ToList();
        if (expired.Count == 0)
            return;
        var notices = new List<(JobRecord Job, int Epoch, string Reason)>();
        foreach (var (_, jobId) in expired)
        {
            var job = Job(jobId);
            var reason = $"lease of epoch {job.Epoch} ({job.WorkerId}) expired at {job.ExpiresUtc:O}";
            job.LostLeases++;
            job.Errors.Add(reason);
            // A cancelled job whose worker vanished has nobody left to tell it: it ends here.
            job.Status = job.CancelRequested ? JobStatus.Cancelled : JobStatus.Queued;
            job.LeaseId = null;
            job.ExpiresUtc = null;
            if (job.Session is { } lostUnder)
                Registry.Ended(lostUnder, job.JobId, JobStatus.Queued, reason).Ignore();
            job.Session = null;
            job.QueuedSinceUtc = now;
            job.EndedUtc = job.Settled ? now : null;
            jobs.Changed((int)job.Sequence);
            notices.Add((job, job.Epoch, reason));
            metrics.LeaseExpired(Pool);
            if (job.Status == JobStatus.Queued)
                metrics.LeaseRequeued(Pool, "expired");
        }
        await Save();
        foreach (var (lease, _) in expired)
            leases.Remove(lease);
        foreach (var (job, epoch, reason) in notices)
        {
            if (job.Status == JobStatus.Queued)
                queued.Add(Key(job));
            else
            {
                Count(job.Status, +1);
                EvictIfSettled((int)job.Sequence);
            }
            log.LogWarning("{Queue}: {Job}: {Reason}; queued again ({Lost} lost leases)", this.GetPrimaryKeyString(), job.JobId, reason, job.LostLeases);
            // One-way: the owner decides (its retry rule) and may cancel the job; the queue never waits on it.
            if (job.Payload.Length > 0)
                _ = JobOwners.Of(GrainFactory, job.Payload).LeaseLost(job.JobId, epoch, job.LostLeases, reason);
        }
        await KeepReminder();
    }

    /// <summary>The reminder is held while a job is queued or leased (a restart must come back to it), dropped when none is.</summary>
    private async Task KeepReminder()
    {
        metrics.QueueDepth(Pool, queued.Count, leases.Count);
        var needed = queued.Count > 0 || leases.Count > 0;
        if (needed == reminderSet)
            return;
        if (needed)
            await this.RegisterOrUpdateReminder(ReclaimReminder, Rules.ReminderPeriod, Rules.ReminderPeriod);
        else if (await this.GetReminder(ReclaimReminder) is { } reminder)
            await this.UnregisterReminder(reminder);
        reminderSet = needed;
    }

    private Task Save(JobRecord job)
    {
        jobs.Changed((int)job.Sequence);
        return Save();
    }

    private async Task Save()
    {
        try
        {
            await jobs.Save();
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
    }

    private JobRecord Job(string jobId) => jobs[index[jobId]];

    private void Count(JobStatus status, int change)
    {
        if (status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled)
            ended[status] = ended.GetValueOrDefault(status) + change;
    }

    /// <summary>A page whose jobs have all ended leaves memory.</summary>
    private void EvictIfSettled(int position) => jobs.EvictIfAll(position, job => job.Settled);

    /// <summary>The timer's round: forget lease ends older than <see cref="WorkQueueOptions.EndedLeaseMemory"/>, reclaim expired leases.</summary>
    private Task Tick(CancellationToken cancellation)
    {
        var forgotten = DateTimeOffset.UtcNow - Rules.EndedLeaseMemory;
        foreach (var lease in endedBy.Where(e => e.Value.EndedUtc < forgotten).Select(e => e.Key).ToList())
            endedBy.Remove(lease);
        return ReclaimExpired(cancellation);
    }

    /// <summary>
    /// The job of a live lease. With <paramref name="endedCounts"/> (an owner ending it), a lease that already ended
    /// its job is accepted without change: the owner's earlier call went through but its answer was lost.
    /// </summary>
    private bool TryLive(Guid leaseId, out JobRecord job, out LeaseOutcome rejection, bool endedCounts = false)
    {
        job = null!;
        rejection = null!;
        if (leases.TryGetValue(leaseId, out var jobId))
        {
            job = Job(jobId);
            return true;
        }
        if (endedCounts && endedBy.TryGetValue(leaseId, out var end))
        {
            rejection = new LeaseOutcome(true, $"already ended by this lease at {end.EndedUtc:O}");
            return false;
        }
        metrics.LeaseRefused(Pool);
        rejection = LeaseOutcome.Rejected($"lease {leaseId} is not live (unknown, already ended, or expired)");
        return false;
    }

    private static JobView View(JobRecord job) =>
        new(job.JobId, job.Status, job.Epoch, job.LostLeases, job.WorkerId, job.Progress, job.Result, [.. job.Errors], job.QueuedSinceUtc);

    private static (int, long, string) Key(JobRecord job) => (-job.Priority, job.Sequence, job.JobId);
}
