using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class JobRecord
{
    [Id(0)] public string JobId { get; set; } = "";
    [Id(1)] public int Priority { get; set; }
    [Id(2)] public long Sequence { get; set; }
    [Id(3)] public string Payload { get; set; } = "";
    [Id(4)] public JobStatus Status { get; set; }
    [Id(5)] public int Attempts { get; set; }
    [Id(6)] public int LostLeases { get; set; }
    [Id(7)] public Guid? LeaseId { get; set; }
    [Id(8)] public string? WorkerId { get; set; }
    [Id(9)] public DateTimeOffset? ExpiresUtc { get; set; }
    [Id(10)] public JobProgress? Progress { get; set; }
    [Id(11)] public string? Result { get; set; }
    [Id(12)] public List<string> Errors { get; set; } = [];
}

[GenerateSerializer]
public sealed class WorkQueueState
{
    [Id(0)] public Dictionary<string, JobRecord> Jobs { get; set; } = [];
    [Id(1)] public long NextSequence { get; set; }
}

/// <summary>
/// See <see cref="IWorkQueueGrain"/>. Queued jobs are kept in an in-memory index ordered by (priority descending,
/// arrival), rebuilt from the persisted state on activation. Expired leases are reclaimed on every call and by a
/// timer, so a restart loses nothing: the next call after it finds the expired leases and requeues their jobs.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class WorkQueueGrain(
    [PersistentState("queue", WorkQueueGrain.StorageName)] IPersistentState<WorkQueueState> state,
    IOptions<WorkQueueOptions> options) : Grain, IWorkQueueGrain
{
    public const string StorageName = "srmobile";

    private readonly SortedSet<(int NegativePriority, long Sequence, string JobId)> queued = [];
    private readonly Dictionary<Guid, string> leases = [];
    private WorkQueueOptions Rules => options.Value;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var job in state.State.Jobs.Values)
        {
            if (job.Status == JobStatus.Queued)
                queued.Add(Key(job));
            else if (job.Status == JobStatus.Leased && job.LeaseId is { } lease)
                leases[lease] = job.JobId;
        }
        this.RegisterGrainTimer(ReclaimExpired, new GrainTimerCreationOptions(Rules.ExpiryCheckPeriod, Rules.ExpiryCheckPeriod) { Interleave = false, KeepAlive = false });
        return Task.CompletedTask;
    }

    public async Task<bool> Enqueue(WorkItem item)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(item.JobId);
        if (state.State.Jobs.ContainsKey(item.JobId))
            return false;
        var job = new JobRecord
        {
            JobId = item.JobId,
            Priority = item.Priority,
            Sequence = state.State.NextSequence++,
            Payload = item.Payload,
            Status = JobStatus.Queued,
        };
        state.State.Jobs[job.JobId] = job;
        await state.WriteStateAsync();
        queued.Add(Key(job));
        return true;
    }

    public async Task<JobLease?> Lease(string workerId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        await ReclaimExpired(CancellationToken.None);
        if (queued.Count == 0)
            return null;
        var next = queued.Min;
        var job = state.State.Jobs[next.JobId];
        var lease = Guid.NewGuid();
        job.Status = JobStatus.Leased;
        job.LeaseId = lease;
        job.WorkerId = workerId;
        job.ExpiresUtc = DateTimeOffset.UtcNow + Rules.LeaseDuration;
        job.Attempts++;
        job.Progress = null;
        await state.WriteStateAsync();
        queued.Remove(next);
        leases[lease] = job.JobId;
        return new JobLease(job.JobId, lease, workerId, job.ExpiresUtc.Value, job.Attempts, job.Payload);
    }

    public async Task<LeaseOutcome> Renew(Guid leaseId, JobProgress progress)
    {
        if (progress.Problem() is { } problem)
            return LeaseOutcome.Rejected($"progress rejected: {problem}");
        await ReclaimExpired(CancellationToken.None);
        if (!TryLive(leaseId, out var job, out var rejection))
            return rejection;
        job.ExpiresUtc = DateTimeOffset.UtcNow + Rules.LeaseDuration;
        job.Progress = progress;
        await state.WriteStateAsync();
        return new LeaseOutcome(true, null, job.ExpiresUtc);
    }

    public async Task<LeaseOutcome> Complete(Guid leaseId, string result)
    {
        await ReclaimExpired(CancellationToken.None);
        if (!TryLive(leaseId, out var job, out var rejection))
            return rejection;
        job.Status = JobStatus.Completed;
        job.Result = result;
        EndLease(job);
        await state.WriteStateAsync();
        leases.Remove(leaseId);
        return new LeaseOutcome(true, null);
    }

    public async Task<LeaseOutcome> Fail(Guid leaseId, string error, bool retry)
    {
        await ReclaimExpired(CancellationToken.None);
        if (!TryLive(leaseId, out var job, out var rejection))
            return rejection;
        job.Errors.Add($"attempt {job.Attempts} ({job.WorkerId}): {error}");
        job.Status = retry ? JobStatus.Queued : JobStatus.Failed;
        EndLease(job);
        await state.WriteStateAsync();
        leases.Remove(leaseId);
        if (retry)
            queued.Add(Key(job));
        return new LeaseOutcome(true, null);
    }

    public Task<JobView?> Get(string jobId) => Task.FromResult(state.State.Jobs.TryGetValue(jobId, out var job)
        ? new JobView(job.JobId, job.Status, job.Attempts, job.LostLeases, job.WorkerId, job.Progress, job.Result, [.. job.Errors])
        : null);

    public Task<QueueSummary> Summary()
    {
        var jobs = state.State.Jobs.Values;
        return Task.FromResult(new QueueSummary(
            jobs.Count(j => j.Status == JobStatus.Queued),
            jobs.Count(j => j.Status == JobStatus.Leased),
            jobs.Count(j => j.Status == JobStatus.Completed),
            jobs.Count(j => j.Status == JobStatus.Failed)));
    }

    /// <summary>Requeues (or, past the limit, fails) every job whose lease has expired; persists once if any did.</summary>
    private async Task ReclaimExpired(CancellationToken cancellation)
    {
        var now = DateTimeOffset.UtcNow;
        var expired = leases.Where(l => state.State.Jobs[l.Value].ExpiresUtc <= now).ToList();
        if (expired.Count == 0)
            return;
        var requeued = new List<JobRecord>();
        foreach (var (lease, jobId) in expired)
        {
            var job = state.State.Jobs[jobId];
            job.LostLeases++;
            job.Errors.Add($"attempt {job.Attempts} ({job.WorkerId}): lease expired at {job.ExpiresUtc:O}");
            job.Status = job.LostLeases >= Rules.MaxLostLeases ? JobStatus.Failed : JobStatus.Queued;
            EndLease(job);
            if (job.Status == JobStatus.Queued)
                requeued.Add(job);
        }
        await state.WriteStateAsync();
        foreach (var (lease, _) in expired)
            leases.Remove(lease);
        foreach (var job in requeued)
            queued.Add(Key(job));
    }

    private bool TryLive(Guid leaseId, out JobRecord job, out LeaseOutcome rejection)
    {
        job = null!;
        rejection = null!;
        if (!leases.TryGetValue(leaseId, out var jobId))
        {
            rejection = LeaseOutcome.Rejected($"lease {leaseId} is not live (unknown, already ended, or expired)");
            return false;
        }
        job = state.State.Jobs[jobId];
        return true;
    }

    private static void EndLease(JobRecord job)
    {
        job.LeaseId = null;
        job.ExpiresUtc = null;
    }

    private static (int, long, string) Key(JobRecord job) => (-job.Priority, job.Sequence, job.JobId);
}
