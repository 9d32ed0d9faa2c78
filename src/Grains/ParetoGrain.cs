using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class ParetoState
{
    /// <summary>The hypervolume each time it changed (a report that leaves the front as it was adds nothing).</summary>
    [Id(0)] public List<HypervolumeSample> History { get; set; } = [];

    [Id(1)] public FrontConfirmation Confirmation { get; set; } = FrontConfirmation.None;

    /// <summary>The newest lease epoch that started the confirmation job (the fence).</summary>
    [Id(2)] public int Epoch { get; set; }

    /// <summary>Failures of the confirmation's work (the retry rule's count, <see cref="CandidateOptions.MaxAttempts"/>).</summary>
    [Id(3)] public int Failures { get; set; }
}

/// <summary>
/// See <see cref="IParetoGrain"/>. Points are stored in pages (a report writes one page, not the whole front's
/// history), the front is kept in memory and updated from itself plus the new point, which is the front of all the
/// points; only a report that replaces a point on the front recomputes it from every point. The confirmation job
/// follows the candidates' rules: fenced by lease epochs, retried per <see cref="CandidateOptions"/>.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class ParetoGrain(
    [PersistentState("pareto", WorkQueueGrain.StorageName)] IPersistentState<ParetoState> state,
    IOptions<CandidateOptions> retryRule,
    ILogger<ParetoGrain> log) : Grain, IParetoGrain
{
    /// <summary>
    /// At most this many candidates are confirmed in one run, nearest the front first: each is an engine session held
    /// open for the whole interleaved run.
    /// </summary>
    public const int MaxConfirmed = 32;

    /// <summary>Confirmation jobs go ahead of any candidate's measurement: a search waits on them to end.</summary>
    public const int ConfirmationPriority = SpecBounds.MaxPriority + 1;

    private readonly Dictionary<string, int> index = [];
    private PagedState<ParetoPoint> points = null!;
    private IReadOnlyList<ParetoPoint> front = [];

    private string Key => this.GetPrimaryKeyString();
    private string JobId => ParetoKeys.ConfirmationJobId(Key);
    private FrontConfirmation Confirmation => state.State.Confirmation;
    private IWorkQueueGrain Queue => GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(ParetoKeys.DeviceOf(Key)));

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        points = new PagedState<ParetoPoint>(ServiceProvider.GetRequiredKeyedService<IGrainStorage>(WorkQueueGrain.StorageName), this.GetGrainId(), "pareto-points");
        await points.Load();
        var position = 0;
        foreach (var point in points.Items)
            index[point.CandidateKey] = position++;
        front = ParetoMath.Front(points.Items);
    }

    public async Task<bool> Report(ParetoPoint point)
    {
        if (!double.IsFinite(point.Psnr) || !double.IsFinite(point.MedianMs) || point.Psnr <= 0 || point.MedianMs <= 0)
            return false;
        var replacesFrontPoint = false;
        if (index.TryGetValue(point.CandidateKey, out var position))
        {
            var known = points[position];
            // The same report again (a repair, a retried call), or the first measurement of a point since confirmed: nothing to store.
            if (known == point || (known.Confirmed && known.Psnr == point.Psnr && known.FirstMs == point.MedianMs))
                return true;
            replacesFrontPoint = front.Contains(known);
            points[position] = point;
        }
        else
        {
            index[point.CandidateKey] = points.Add(point);
        }
        await Store(replacesFrontPoint ? ParetoMath.Front(points.Items) : ParetoMath.Front(front.Append(point)));
        return true;
    }

    public Task<ParetoFrontView> Get() => Task.FromResult(new ParetoFrontView(
        front,
        points.Items.OrderBy(p => p.MedianMs).ToList(),
        [.. state.State.History],
        Confirmation));

    public async Task<FrontConfirmation> Confirm()
    {
        if (Confirmation.Status == ConfirmationStatus.NotStarted)
        {
            var near = ParetoMath.NearFront([.. points.Items]).Take(MaxConfirmed).Select(p => p.CandidateKey).ToList();
            // One point has no neighbour to be compared with in one session: its own measurement stands.
            state.State.Confirmation = near.Count < 2
                ? new FrontConfirmation(ConfirmationStatus.Confirmed, [], EndedUtc: DateTimeOffset.UtcNow)
                : new FrontConfirmation(ConfirmationStatus.Running, near);
            await state.WriteOrDeactivate(this);
            if (Confirmation.Status == ConfirmationStatus.Running)
                log.LogInformation("{Front}: confirming {Count} candidates on or within {Tolerance:P0} of the front", Key, near.Count, ParetoMath.ConfirmTolerance);
        }
        // Enqueue is idempotent per job id: asked again, it repairs a crash between the write above and this call.
        if (Confirmation.Status == ConfirmationStatus.Running)
            await Queue.Enqueue(new WorkItem(JobId, ConfirmationPriority, ParetoKeys.ConfirmationPayload(Key)));
        return Confirmation;
    }

    public async Task<ConfirmationPlan> ConfirmationStarted(JobLease lease)
    {
        if (await Refusal(lease, starting: true) is { } refused)
            return new ConfirmationPlan(false, refused, []);
        if (lease.Epoch > state.State.Epoch)
        {
            state.State.Epoch = lease.Epoch;
            state.State.Confirmation = Confirmation with { WorkerId = lease.WorkerId };
            await state.WriteOrDeactivate(this);
        }
        return new ConfirmationPlan(true, null, Confirmation.Candidates);
    }

    public async Task<Verdict> Confirmed(JobLease lease, IReadOnlyList<ConfirmedTime> times)
    {
        if (Confirmation.Status == ConfirmationStatus.Confirmed && state.State.Epoch == lease.Epoch && Confirmation.WorkerId == lease.WorkerId)
            return new Verdict(true, "already taken from this lease");
        if (await Refusal(lease) is { } refused)
            return Verdict.Refused(refused);
        var planned = Confirmation.Candidates.ToHashSet();
        if (times.FirstOrDefault(t => !planned.Contains(t.CandidateKey) || !double.IsFinite(t.MedianMs) || t.MedianMs <= 0) is { } wrong)
            return Verdict.Refused($"{wrong.CandidateKey}: {wrong.MedianMs} ms is not a confirmation of this front (a planned candidate, a positive number)");
        var ended = await Queue.Complete(lease.LeaseId, $"confirmed {times.Count} candidates");
        if (!ended.Accepted)
            return Verdict.Refused(ended.Reason!);
        foreach (var time in times)
        {
            if (!index.TryGetValue(time.CandidateKey, out var position))
                continue;
            var known = points[position];
            points[position] = known with { MedianMs = time.MedianMs, FirstMs = known.FirstMs ?? known.MedianMs };
        }
        state.State.Confirmation = Confirmation with { Status = ConfirmationStatus.Confirmed, EndedUtc = DateTimeOffset.UtcNow, Times = times };
        await Store(ParetoMath.Front(points.Items), always: true);
        log.LogInformation("{Front}: confirmed {Count} candidates under the lease of epoch {Epoch} ({Worker})", Key, times.Count, lease.Epoch, lease.WorkerId);
        return new Verdict(true, null);
    }

    public async Task<Verdict> WorkFailed(JobLease lease, string error, bool retryable)
    {
        if (await Refusal(lease) is { } refused)
            return Verdict.Refused(refused);
        var failures = state.State.Failures + 1;
        var retry = retryable && failures < retryRule.Value.MaxAttempts;
        var ended = await Queue.Fail(lease.LeaseId, error, retry);
        if (!ended.Accepted)
            return Verdict.Refused(ended.Reason!);
        state.State.Failures = failures;
        if (retry)
            await state.WriteOrDeactivate(this);
        else
            await GiveUp(retryable ? $"failed {failures} times, the last: {error}" : error);
        return new Verdict(true, null);
    }

    public async Task LeaseLost(string jobId, int epoch, int lostLeases, string reason)
    {
        if (jobId == JobId && Confirmation.Status == ConfirmationStatus.Running && lostLeases >= retryRule.Value.MaxLostLeases)
        {
            await GiveUp($"lost {lostLeases} leases (its workers stopped answering), the last: {reason}");
            await Queue.Cancel(JobId);
        }
    }

    public async Task GiveUpConfirmation(string reason)
    {
        if (Confirmation.Ended)
            return;
        await GiveUp(reason);
        await Queue.Cancel(JobId);
    }

    /// <summary>The front keeps its first measurements, and says why they are not confirmed.</summary>
    private async Task GiveUp(string reason)
    {
        state.State.Confirmation = Confirmation with { Status = ConfirmationStatus.GaveUp, Error = reason, EndedUtc = DateTimeOffset.UtcNow };
        await state.WriteOrDeactivate(this);
        log.LogWarning("{Front}: confirmation given up: {Reason}", Key, reason);
        GrainFactory.GetGrain<ISearchGrain>(ParetoKeys.SearchOf(Key)).FrontChanged(Key).Ignore();
    }

    /// <summary>Why a report of the confirmation job under <paramref name="lease"/> is refused; null when it is the current lease (<paramref name="starting"/>: or a newer one).</summary>
    private async Task<string?> Refusal(JobLease lease, bool starting = false)
    {
        if (lease.JobId != JobId || lease.Payload != ParetoKeys.ConfirmationPayload(Key))
            return $"{lease.JobId} is not the confirmation job of {Key}";
        if (Confirmation.Status != ConfirmationStatus.Running)
        {
            // Nothing is left to do: the job ends at the worker's hand-back.
            await Queue.Cancel(JobId);
            return $"the confirmation of {Key} is {Confirmation.Status}";
        }
        var current = state.State.Epoch;
        if (starting ? lease.Epoch < current : lease.Epoch != current)
        {
            log.LogWarning("{Front}: refused a report under the lease of epoch {Epoch} ({Worker}): the current epoch is {Current}", Key, lease.Epoch, lease.WorkerId, current);
            return $"stale lease: epoch {lease.Epoch}, the job's current epoch is {current}";
        }
        return null;
    }

    /// <summary>Stores the points and, when the hypervolume changed (or <paramref name="always"/>), the state; then tells the search.</summary>
    private async Task Store(IReadOnlyList<ParetoPoint> updated, bool always = false)
    {
        var hypervolume = ParetoMath.Hypervolume(updated);
        try
        {
            await points.Save();
            var changed = state.State.History.Count == 0 || state.State.History[^1].Hypervolume != hypervolume;
            if (changed)
                state.State.History.Add(new HypervolumeSample(DateTimeOffset.UtcNow, hypervolume));
            if (changed || always)
                await state.WriteStateAsync();
        }
        catch
        {
            // Memory now holds what storage may not: start again from storage on the next call.
            DeactivateOnIdle();
            throw;
        }
        front = updated;
        GrainFactory.GetGrain<ISearchGrain>(ParetoKeys.SearchOf(Key)).FrontChanged(Key).Ignore();
    }
}
