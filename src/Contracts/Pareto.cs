namespace SrMobile.Contracts;

/// <summary>
/// One measured candidate on one device: int8 PSNR (what the engine really output) against median ms. A confirmed
/// point (<see cref="FirstMs"/> set) shows the median of the front's confirmation run, interleaved with its
/// neighbours in one session; <see cref="FirstMs"/> keeps the candidate's own first measurement.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ParetoPoint(
    [property: Id(0)] string CandidateKey,
    [property: Id(1)] double Psnr,
    [property: Id(2)] double MedianMs,
    [property: Id(3)] double? FirstMs = null)
{
    public bool Confirmed => FirstMs is not null;
}

[GenerateSerializer, Immutable]
public sealed record HypervolumeSample(
    [property: Id(0)] DateTimeOffset AtUtc,
    [property: Id(1)] double Hypervolume);

[GenerateSerializer]
public enum ConfirmationStatus
{
    /// <summary>The search has not finished measuring: nothing to confirm yet.</summary>
    NotStarted,

    /// <summary>The confirmation job is queued or running on a device worker.</summary>
    Running,

    /// <summary>The front shows the confirmed numbers.</summary>
    Confirmed,

    /// <summary>The confirmation failed for good (its <see cref="FrontConfirmation.Error"/> says why): the front shows first measurements.</summary>
    GaveUp,
}

/// <summary>
/// The confirmation of a front: before a search is done, the candidates on or within
/// <see cref="ParetoMath.ConfirmTolerance"/> of the front are measured again, interleaved run by run in one engine
/// session on one device worker, so their differences are the graphs' and not the machine's moods between jobs.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FrontConfirmation(
    [property: Id(0)] ConfirmationStatus Status,
    [property: Id(1)] IReadOnlyList<string> Candidates,
    [property: Id(2)] string? WorkerId = null,
    [property: Id(3)] string? Error = null,
    [property: Id(4)] DateTimeOffset? EndedUtc = null,
    [property: Id(5)] IReadOnlyList<ConfirmedTime>? Times = null)
{
    public bool Ended => Status is ConfirmationStatus.Confirmed or ConfirmationStatus.GaveUp;

    public static readonly FrontConfirmation None = new(ConfirmationStatus.NotStarted, []);
}

[GenerateSerializer, Immutable]
public sealed record ParetoFrontView(
    [property: Id(0)] IReadOnlyList<ParetoPoint> Front,
    [property: Id(1)] IReadOnlyList<ParetoPoint> All,
    [property: Id(2)] IReadOnlyList<HypervolumeSample> History,
    [property: Id(3)] FrontConfirmation? Confirmation = null);

/// <summary>
/// One candidate's median in a front's confirmation run, with its whole latency record (protocol, environment, every
/// statistic) and the device's canary reading when it was taken; the front keeps them (<see cref="FrontConfirmation.Times"/>).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConfirmedTime(
    [property: Id(0)] string CandidateKey,
    [property: Id(1)] double MedianMs,
    [property: Id(2)] double Cov,
    [property: Id(3)] string ProtocolJson,
    [property: Id(4)] CanaryReading? Canary = null);

/// <summary>A device worker's start of a confirmation job: accepted with the candidates to measure, or refused (why).</summary>
[GenerateSerializer, Immutable]
public sealed record ConfirmationPlan(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason,
    [property: Id(2)] IReadOnlyList<string> Candidates);

/// <summary>
/// The front of one (search, scale, device key), key <c>{search}/x{scale}/{device}</c>: every reported point,
/// the non-dominated ones, and the hypervolume after each report. It owns its confirmation job (in the device's pool,
/// job id <see cref="ParetoKeys.ConfirmationJobId"/>), fenced by lease epochs like a candidate's jobs.
/// </summary>
public interface IParetoGrain : IJobOwner
{
    /// <summary>
    /// Adds or replaces the candidate's point; NaN, infinite or non-positive values are rejected. A confirmed point is
    /// kept when its candidate reports its first measurement again (a repair).
    /// </summary>
    Task<bool> Report(ParetoPoint point);

    Task<ParetoFrontView> Get();

    /// <summary>
    /// The search has measured every candidate: picks the candidates on or near the front and enqueues the
    /// confirmation job (idempotent: again, it repairs a lost enqueue). A front with nothing to confirm is confirmed at once.
    /// </summary>
    Task<FrontConfirmation> Confirm();

    /// <summary>A device worker starts the confirmation job under <paramref name="lease"/>.</summary>
    Task<ConfirmationPlan> ConfirmationStarted(JobLease lease);

    /// <summary>The confirmation run's medians: they replace the points' times (the first ones kept), once.</summary>
    Task<Verdict> Confirmed(JobLease lease, IReadOnlyList<ConfirmedTime> times);

    /// <summary>Nobody can confirm (no worker of the device within the spec's device_timeout): the front keeps its first measurements.</summary>
    Task GiveUpConfirmation(string reason);
}

/// <summary>Pareto arithmetic over (PSNR, ms): higher PSNR and lower ms are better.</summary>
public static class ParetoMath
{
    /// <summary>Reference point of the hypervolume: PSNR floor (dB) and time ceiling (ms); fixed so values compare over time.</summary>
    public const double PsnrFloor = 20;
    public const double MillisecondsCeiling = 1000;

    /// <summary>The points no other point dominates (at least as good in both, better in one), by ascending ms.</summary>
    public static IReadOnlyList<ParetoPoint> Front(IEnumerable<ParetoPoint> points)
    {
        var front = new List<ParetoPoint>();
        var best = double.NegativeInfinity;
        // By time, then by PSNR descending: a point is on the front when it beats every faster point's PSNR.
        foreach (var point in points.OrderBy(p => p.MedianMs).ThenByDescending(p => p.Psnr))
        {
            if (point.Psnr > best)
            {
                front.Add(point);
                best = point.Psnr;
            }
        }
        return front;
    }

    /// <summary>How far (in time) from the front a point may lie and still be confirmed: 5 %.</summary>
    public const double ConfirmTolerance = 0.05;

    /// <summary>
    /// The points on the front or within <paramref name="tolerance"/> of it in time: those no point beats in PSNR
    /// (at least as good) while being faster by more than the tolerance. Time is the noisy coordinate (PSNR is
    /// deterministic), so these are the points whose place a noisy measurement may have decided. Ordered by how far
    /// they are from the front, front points first.
    /// </summary>
    public static IReadOnlyList<ParetoPoint> NearFront(IReadOnlyCollection<ParetoPoint> points, double tolerance = ConfirmTolerance)
    {
        var near = new List<(ParetoPoint Point, double Gap)>();
        foreach (var point in points)
        {
            // The smallest factor by which a point at least as accurate is faster: ≥ 1 means none is faster.
            var fastest = points.Where(q => q.Psnr >= point.Psnr && q.CandidateKey != point.CandidateKey)
                .Select(q => q.MedianMs).DefaultIfEmpty(double.PositiveInfinity).Min();
            var gap = point.MedianMs / fastest;
            if (gap <= 1 + tolerance)
                near.Add((point, Math.Max(0, gap - 1)));
        }
        return [.. near.OrderBy(n => n.Gap).ThenBy(n => n.Point.MedianMs).Select(n => n.Point)];
    }

    /// <summary>Area dominated by the front inside [floor, ∞) × [0, ceiling], in dB·ms.</summary>
    public static double Hypervolume(IReadOnlyList<ParetoPoint> front, double psnrFloor = PsnrFloor, double msCeiling = MillisecondsCeiling)
    {
        double area = 0;
        for (var i = 0; i < front.Count; i++)
        {
            var point = front[i];
            if (point.MedianMs >= msCeiling || point.Psnr <= psnrFloor)
                continue;
            // Each front point owns the strip from its time to the next (slower, better) point's time.
            var until = i + 1 < front.Count ? Math.Min(front[i + 1].MedianMs, msCeiling) : msCeiling;
            area += (until - point.MedianMs) * (point.Psnr - psnrFloor);
        }
        return area;
    }

    /// <summary>The Mobile AI challenge's score, 2^(2·PSNR) / (C · ms), with C configurable.</summary>
    public static double MaiScore(double psnr, double milliseconds, double constant = 1) =>
        Math.Pow(2, 2 * psnr) / (constant * milliseconds);
}
