using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using SrMobile.Contracts;
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
    [Id(5)] public int Attempts { get; set; }
    [Id(6)] public int LostLeases { get; set; }
    [Id(7)] public Guid? LeaseId { get; set; }
    [Id(8)] public string? WorkerId { get; set; }
    [Id(9)] public DateTimeOffset? ExpiresUtc { get; set; }
    [Id(10)] public JobProgress? Progress { get; set; }
    [Id(11)] public string? Result { get; set; }
    [Id(12)] public List<string> Errors { get; set; } = [];
}

/// <summary>
/// See <see cref="IWorkQueueGrain"/>. Jobs are stored in pages (<see cref="PagedState{T}"/>, in arrival order), so a
/// change writes the page of the job it touches, whatever the queue's length. Queued jobs are kept in an in-memory
/// index ordered by (priority descending, arrival), rebuilt from the pages on activation. Expired leases are
/// reclaimed on every call and by a timer, so a restart loses nothing: the next call after it finds the expired
/// leases and requeues their jobs. A failed write deactivates the grain, so the next call starts again from what is
/// stored instead of from memory that storage never saw.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class WorkQueueGrain(IOptions<WorkQueueOptions> options) : Grain, IWorkQueueGrain
{
    public const string StorageName = "srmobile";

    private readonly SortedSet<(int NegativePriority, long Sequence, string JobId)> queued = [];
    private readonly Dictionary<Guid, string> leases = [];
    private readonly Dictionary<string, int> index = [];
    private PagedState<JobRecord> jobs = null!;
    private WorkQueueOptions Rules => options.Value;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        jobs = new PagedState<JobRecord>(ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageName), this.GetGrainId(), "queue");
        await jobs.Load();
        var position = 0;
        foreach (var job in jobs.Items)
        {
            index[job.JobId] = position++;
            if (job.Status == JobStatus.Queued)
                queued.Add(Key(job));
            else if (job.Status == JobStatus.Leased && job.LeaseId is { } lease)
                leases[lease] = job.JobId;
        }
        this.RegisterGrainTimer(ReclaimExpired, new GrainTimerCreationOptions(Rules.ExpiryCheckPeriod, Rules.ExpiryCheckPeriod) { Interleave = false, KeepAlive = false });
    }

    public async Task<bool> Enqueue(WorkItem item)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(item.JobId);
        if (index.ContainsKey(item.JobId))
            return false;
        var job = new JobRecord
        {
            JobId = item.JobId,
            Priority = item.Priority,
            Sequence = jobs.Count,
            Payload = item.Payload,
            Status = JobStatus.Queued,
        };
        jobs.Add(job);
        await Save();
        index[job.JobId] = (int)job.Sequence;
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
        var job = Job(next.JobId);
        var lease = Guid.NewGuid();
        job.Status = JobStatus.Leased;
        job.LeaseId = lease;
        job.WorkerId = workerId;
        job.ExpiresUtc = DateTimeOffset.UtcNow + Rules.LeaseDuration;
        job.Attempts++;
        job.Progress = null;
        await Save(job);
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
        await Save(job);
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
        await Save(job);
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
        await Save(job);
        leases.Remove(leaseId);
        if (retry)
            queued.Add(Key(job));
        return new LeaseOutcome(true, null);
    }

    public Task<JobView?> Get(string jobId) =>
        Task.FromResult(index.TryGetValue(jobId, out var position) ? View(jobs[position]) : null);

    public Task<IReadOnlyList<JobView>> Leased() =>
        Task.FromResult<IReadOnlyList<JobView>>([.. leases.Values.Select(Job).OrderBy(j => j.Sequence).Select(View)]);

    public Task<QueueSummary> Summary()
    {
        int leased = leases.Count, completed = 0, failed = 0;
        foreach (var job in jobs.Items)
        {
            completed += job.Status == JobStatus.Completed ? 1 : 0;
            failed += job.Status == JobStatus.Failed ? 1 : 0;
        }
        return Task.FromResult(new QueueSummary(queued.Count, leased, completed, failed));
    }

    /// <summary>Requeues (or, past the limit, fails) every job whose lease has expired; persists once if any did.</summary>
    private async Task ReclaimExpired(CancellationToken cancellation)
    {
        var now = DateTimeOffset.UtcNow;
        var expired = leases.Where(l => Job(l.Value).ExpiresUtc <= now).ToList();
        if (expired.Count == 0)
            return;
        var requeued = new List<JobRecord>();
        foreach (var (lease, jobId) in expired)
        {
            var job = Job(jobId);
            job.LostLeases++;
            job.Errors.Add($"attempt {job.Attempts} ({job.WorkerId}): lease expired at {job.ExpiresUtc:O}");
            job.Status = job.LostLeases >= Rules.MaxLostLeases ? JobStatus.Failed : JobStatus.Queued;
            EndLease(job);
            jobs.Changed((int)job.Sequence);
            if (job.Status == JobStatus.Queued)
                requeued.Add(job);
        }
        await Save();
        foreach (var (lease, _) in expired)
            leases.Remove(lease);
        foreach (var job in requeued)
            queued.Add(Key(job));
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

    private bool TryLive(Guid leaseId, out JobRecord job, out LeaseOutcome rejection)
    {
        job = null!;
        rejection = null!;
        if (!leases.TryGetValue(leaseId, out var jobId))
        {
            rejection = LeaseOutcome.Rejected($"lease {leaseId} is not live (unknown, already ended, or expired)");
            return false;
        }
        job = Job(jobId);
        return true;
    }

    private static JobView View(JobRecord job) =>
        new(job.JobId, job.Status, job.Attempts, job.LostLeases, job.WorkerId, job.Progress, job.Result, [.. job.Errors]);

    private static void EndLease(JobRecord job)
    {
        job.LeaseId = null;
        job.ExpiresUtc = null;
    }

    private static (int, long, string) Key(JobRecord job) => (-job.Priority, job.Sequence, job.JobId);
}
