using SrMobile.Contracts;
using SrMobile.Tests;

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

    private async Task<(IParetoGrain Pareto, string Front, IWorkQueueGrain Queue, DeviceSession Session)> Front(params ParetoPoint[] points)
    {
        var device = $"dev-{Guid.NewGuid():N}"[..12];
        var front = ParetoKeys.Of($"s-{Guid.NewGuid():N}"[..12], 3, device);
        var pareto = fixture.Grains.GetGrain<IParetoGrain>(front);
        foreach (var point in points)
            Assert.True(await pareto.Report(point));
        var session = await DeviceSessions.Join(fixture.Grains, device, $"board-{Guid.NewGuid():N}");
        return (pareto, front, fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(device)), session);
    }

    [Fact]
    public async Task Confirmation_remeasures_the_near_front_candidates_once_and_the_front_shows_their_confirmed_times()
    {
        var (pareto, front, queue, session) = await Front(
            new ParetoPoint("a", 30, 100), new ParetoPoint("b", 30.5, 103), new ParetoPoint("c", 29, 104), new ParetoPoint("far", 28, 200));

        var confirmation = await pareto.Confirm();
        Assert.Equal(ConfirmationStatus.Running, confirmation.Status);
        Assert.Equal(["a", "b", "c"], confirmation.Candidates);
        var lease = (await queue.Lease("board", session.Id))!;
        Assert.Equal((ParetoKeys.ConfirmationJobId(front), ParetoKeys.ConfirmationPayload(front)), (lease.JobId, lease.Payload));
        Assert.Equal(["a", "b", "c"], (await pareto.ConfirmationStarted(lease)).Candidates);
        // Asked again while it runs (the search's watch): the same job, nothing new queued.
        Assert.Equal(ConfirmationStatus.Running, (await pareto.Confirm()).Status);
        Assert.Equal(0, (await queue.Summary()).Queued);

        Assert.False((await pareto.Confirmed(lease, [new ConfirmedTime("far", 150, 0.01, "{}")])).Accepted);
        Assert.False((await pareto.Confirmed(lease, [new ConfirmedTime("a", double.NaN, 0.01, "{}")])).Accepted);
        ConfirmedTime[] times = [new("a", 110, 0.01, "{}"), new("b", 100, 0.01, "{}"), new("c", 105, 0.01, "{}")];
        Assert.True((await pareto.Confirmed(lease, times)).Accepted);
        Assert.True((await pareto.Confirmed(lease, times)).Accepted); // a retried report: taken once

        var view = await pareto.Get();
        Assert.Equal(ConfirmationStatus.Confirmed, view.Confirmation!.Status);
        Assert.Equal(times, view.Confirmation.Times); // each number with its protocol record, kept
        Assert.Equal(["b"], view.Front.Select(p => p.CandidateKey));
        Assert.Equal(new ParetoPoint("a", 30, 110, FirstMs: 100), view.All.Single(p => p.CandidateKey == "a"));
        Assert.Equal(new ParetoPoint("far", 28, 200), view.All.Single(p => p.CandidateKey == "far"));
        Assert.Equal(JobStatus.Completed, (await queue.Get(lease.JobId))!.Status);
        Assert.Equal(ParetoMath.Hypervolume(view.Front), view.History[^1].Hypervolume, 9);

        // A candidate's repair reports its first measurement again: the confirmed time stays.
        Assert.True(await pareto.Report(new ParetoPoint("a", 30, 100)));
        Assert.Equal(110, (await pareto.Get()).All.Single(p => p.CandidateKey == "a").MedianMs);
        Assert.Equal(ConfirmationStatus.Confirmed, (await pareto.Confirm()).Status);
        Assert.Equal(0, (await queue.Summary()).Queued);
    }

    [Fact]
    public async Task A_front_of_one_point_needs_no_confirmation()
    {
        var (pareto, _, queue, _) = await Front(new ParetoPoint("only", 30, 100), new ParetoPoint("far", 28, 300));
        var confirmation = await pareto.Confirm();
        Assert.Equal(ConfirmationStatus.Confirmed, confirmation.Status);
        Assert.Empty(confirmation.Candidates);
        Assert.Equal(0, (await queue.Summary()).Queued);
        Assert.Null((await pareto.Get()).All.Single(p => p.CandidateKey == "only").FirstMs);
    }

    [Fact]
    public async Task A_confirmation_is_fenced_retried_by_the_one_rule_and_then_given_up_keeping_the_first_measurements()
    {
        var (pareto, _, queue, session) = await Front(new ParetoPoint("a", 30, 100), new ParetoPoint("b", 30.5, 101));
        await pareto.Confirm();
        var first = (await queue.Lease("board", session.Id))!;
        Assert.True((await pareto.ConfirmationStarted(first)).Accepted);
        Assert.True((await pareto.WorkFailed(first, "the engine was killed by signal 9", retryable: true)).Accepted);

        var second = (await queue.Lease("board", session.Id))!;
        Assert.Equal(first.Epoch + 1, second.Epoch);
        Assert.True((await pareto.ConfirmationStarted(second)).Accepted);
        Assert.False((await pareto.ConfirmationStarted(first)).Accepted);
        Assert.False((await pareto.Confirmed(first, [new ConfirmedTime("a", 90, 0, "{}")])).Accepted);
        Assert.True((await pareto.WorkFailed(second, "model.onnx: SHA-256 differs", retryable: false)).Accepted);

        var view = await pareto.Get();
        Assert.Equal(ConfirmationStatus.GaveUp, view.Confirmation!.Status);
        Assert.Contains("SHA-256", view.Confirmation.Error);
        Assert.All(view.All, p => Assert.Null(p.FirstMs));
        Assert.Equal([100, 101], view.All.Select(p => p.MedianMs));
        Assert.Equal(JobStatus.Failed, (await queue.Get(second.JobId))!.Status);
        Assert.False((await pareto.Confirmed(second, [new ConfirmedTime("a", 90, 0, "{}")])).Accepted);
    }
}
