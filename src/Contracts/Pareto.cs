namespace SrMobile.Contracts;

/// <summary>One measured candidate on one device: int8 PSNR (what the engine really output) against median ms.</summary>
[GenerateSerializer, Immutable]
public sealed record ParetoPoint(
    [property: Id(0)] string CandidateKey,
    [property: Id(1)] double Psnr,
    [property: Id(2)] double MedianMs);

[GenerateSerializer, Immutable]
public sealed record HypervolumeSample(
    [property: Id(0)] DateTimeOffset AtUtc,
    [property: Id(1)] double Hypervolume);

[GenerateSerializer, Immutable]
public sealed record ParetoFrontView(
    [property: Id(0)] IReadOnlyList<ParetoPoint> Front,
    [property: Id(1)] IReadOnlyList<ParetoPoint> All,
    [property: Id(2)] IReadOnlyList<HypervolumeSample> History);

/// <summary>
/// The front of one (search, scale, device key), key <c>{search}/x{scale}/{device}</c>: every reported point,
/// the non-dominated ones, and the hypervolume after each report.
/// </summary>
public interface IParetoGrain : IGrainWithStringKey
{
    /// <summary>Adds or replaces the candidate's point; NaN, infinite or non-positive values are rejected.</summary>
    Task<bool> Report(ParetoPoint point);

    Task<ParetoFrontView> Get();
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
