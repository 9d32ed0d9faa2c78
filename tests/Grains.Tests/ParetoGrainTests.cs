using SrMobile.Contracts;

namespace SrMobile.Grains.Tests;

public class ParetoGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task Reports_build_the_front_replace_per_candidate_and_track_hypervolume()
    {
        var pareto = fixture.Grains.GetGrain<IParetoGrain>($"s-{Guid.NewGuid():N}/x3/local");
        Assert.True(await pareto.Report(new ParetoPoint("a", 29, 100)));
        Assert.True(await pareto.Report(new ParetoPoint("b", 28, 150)));
        Assert.True(await pareto.Report(new ParetoPoint("c", 30, 300)));
        Assert.False(await pareto.Report(new ParetoPoint("bad", double.NaN, 10)));
        Assert.False(await pareto.Report(new ParetoPoint("bad", 30, -1)));
        Assert.True(await pareto.Report(new ParetoPoint("b", 31, 150))); // a re-measurement replaces the point

        var view = await pareto.Get();
        Assert.Equal(["a", "b"], view.Front.Select(p => p.CandidateKey));
        Assert.Equal(3, view.All.Count);
        Assert.Equal(4, view.History.Count);
        Assert.Equal(ParetoMath.Hypervolume(view.Front), view.History[^1].Hypervolume, 9);
    }
}
