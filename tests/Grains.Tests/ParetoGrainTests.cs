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
        // A sample per change of the hypervolume: a, c and the new b; the dominated first b changed nothing.
        Assert.Equal(3, view.History.Count);
        Assert.Equal(ParetoMath.Hypervolume(view.Front), view.History[^1].Hypervolume, 9);
    }

    [Fact]
    public async Task A_front_point_measured_worse_brings_back_the_points_it_dominated()
    {
        var pareto = fixture.Grains.GetGrain<IParetoGrain>($"s-{Guid.NewGuid():N}/x3/local");
        Assert.True(await pareto.Report(new ParetoPoint("fast", 27, 50)));
        Assert.True(await pareto.Report(new ParetoPoint("best", 31, 100)));
        Assert.True(await pareto.Report(new ParetoPoint("hidden", 30, 120)));
        Assert.Equal(["fast", "best"], (await pareto.Get()).Front.Select(p => p.CandidateKey));

        Assert.True(await pareto.Report(new ParetoPoint("best", 26, 100)));
        var view = await pareto.Get();
        Assert.Equal(["fast", "hidden"], view.Front.Select(p => p.CandidateKey));
        Assert.Equal(ParetoMath.Front(view.All), view.Front);
    }
}
