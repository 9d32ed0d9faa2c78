using SrMobile.Contracts;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class ParetoState
{
    [Id(0)] public Dictionary<string, ParetoPoint> Points { get; set; } = [];
    [Id(1)] public List<HypervolumeSample> History { get; set; } = [];
}

/// <summary>See <see cref="IParetoGrain"/>.</summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class ParetoGrain(
    [PersistentState("pareto", WorkQueueGrain.StorageName)] IPersistentState<ParetoState> state) : Grain, IParetoGrain
{
    public async Task<bool> Report(ParetoPoint point)
    {
        if (!double.IsFinite(point.Psnr) || !double.IsFinite(point.MedianMs) || point.Psnr <= 0 || point.MedianMs <= 0)
            return false;
        state.State.Points[point.CandidateKey] = point;
        state.State.History.Add(new HypervolumeSample(DateTimeOffset.UtcNow, ParetoMath.Hypervolume(ParetoMath.Front(state.State.Points.Values))));
        await state.WriteStateAsync();
        return true;
    }

    public Task<ParetoFrontView> Get() => Task.FromResult(new ParetoFrontView(
        ParetoMath.Front(state.State.Points.Values),
        state.State.Points.Values.OrderBy(p => p.MedianMs).ToList(),
        [.. state.State.History]));
}
