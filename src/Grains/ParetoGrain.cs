using Microsoft.Extensions.DependencyInjection;
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
}

/// <summary>
/// See <see cref="IParetoGrain"/>. Points are stored in pages (a report writes one page, not the whole front's
/// history), the front is kept in memory and updated from itself plus the new point, which is the front of all the
/// points; only a report that replaces a point on the front recomputes it from every point.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class ParetoGrain(
    [PersistentState("pareto", WorkQueueGrain.StorageName)] IPersistentState<ParetoState> state) : Grain, IParetoGrain
{
    private readonly Dictionary<string, int> index = [];
    private PagedState<ParetoPoint> points = null!;
    private IReadOnlyList<ParetoPoint> front = [];

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
            // The same report again (a repair, a retried call): nothing to store.
            if (points[position] == point)
                return true;
            replacesFrontPoint = front.Contains(points[position]);
            points[position] = point;
        }
        else
        {
            index[point.CandidateKey] = points.Add(point);
        }
        var updated = replacesFrontPoint ? ParetoMath.Front(points.Items) : ParetoMath.Front(front.Append(point));
        var hypervolume = ParetoMath.Hypervolume(updated);
        try
        {
            await points.Save();
            if (state.State.History.Count == 0 || state.State.History[^1].Hypervolume != hypervolume)
            {
                state.State.History.Add(new HypervolumeSample(DateTimeOffset.UtcNow, hypervolume));
                await state.WriteStateAsync();
            }
        }
        catch
        {
            // Memory now holds what storage may not: start again from storage on the next call.
            DeactivateOnIdle();
            throw;
        }
        front = updated;
        GrainFactory.GetGrain<ISearchGrain>(ParetoKeys.SearchOf(this.GetPrimaryKeyString())).FrontChanged(this.GetPrimaryKeyString()).Ignore();
        return true;
    }

    public Task<ParetoFrontView> Get() => Task.FromResult(new ParetoFrontView(
        front,
        points.Items.OrderBy(p => p.MedianMs).ToList(),
        [.. state.State.History]));
}
