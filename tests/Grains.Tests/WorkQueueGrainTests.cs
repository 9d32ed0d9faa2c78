using SrMobile.Contracts;

namespace SrMobile.Grains.Tests;

public class WorkQueueGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly JobProgress Progress = new("training", 10, 3.5, null);

    private IWorkQueueGrain NewQueue() => fixture.Grains.GetGrain<IWorkQueueGrain>($"test-{Guid.NewGuid():N}");

    [Fact]
    public async Task Enqueue_is_idempotent_per_job_id()
    {
        var queue = NewQueue();
        Assert.True(await queue.Enqueue(new WorkItem("a", 0, "{}")));
        Assert.False(await queue.Enqueue(new WorkItem("a", 5, "other")));
        Assert.Equal((1, 0, 0, 0, 0), (await queue.Summary()).Counts);
        var lease = await queue.Lease("w");
        Assert.Equal("{}", lease!.Payload);
    }

    [Fact]
    public async Task A_worker_waiting_for_its_machine_counts_as_asking_for_work_and_leases_nothing()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("a", 0, ""));
        Assert.Null((await queue.Summary()).LastPollUtc);
        var before = DateTimeOffset.UtcNow;
        await queue.Waiting("trainer-waiting-for-the-gate");
        var summary = await queue.Summary();
        Assert.True(summary.LastPollUtc >= before, $"last poll {summary.LastPollUtc}, asked at {before}");
        Assert.Equal((1, 0, 0, 0, 0), summary.Counts);
    }

    [Fact]
    public async Task Higher_priority_first_then_first_in_first_out()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("low-1", 0, ""));
        await queue.Enqueue(new WorkItem("high-1", 5, ""));
        await queue.Enqueue(new WorkItem("low-2", 0, ""));
        await queue.Enqueue(new WorkItem("high-2", 5, ""));
        var order = new List<string>();
        while (await queue.Lease("w") is { } lease)
            order.Add(lease.JobId);
        Assert.Equal(["high-1", "high-2", "low-1", "low-2"], order);
    }

    [Fact]
    public async Task Complete_twice_or_with_a_wrong_lease_is_rejected_without_changing_state()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("a", 0, ""));
        var lease = (await queue.Lease("w"))!;
        var wrong = await queue.Complete(Guid.NewGuid(), "bogus");
        Assert.False(wrong.Accepted);
        Assert.Equal(JobStatus.Leased, (await queue.Get("a"))!.Status);

        Assert.True((await queue.Complete(lease.LeaseId, "done")).Accepted);
        // The same owner's call again (its answer was lost) is accepted and changes nothing.
        var again = await queue.Complete(lease.LeaseId, "twice");
        Assert.True(again.Accepted);
        Assert.Contains("already ended", again.Reason);
        Assert.False((await queue.Renew(lease.LeaseId, Progress)).Accepted);
        var view = (await queue.Get("a"))!;
        Assert.Equal(JobStatus.Completed, view.Status);
        Assert.Equal("done", view.Result);
    }

    [Fact]
    public async Task Reports_with_nan_or_negative_values_are_rejected()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("a", 0, ""));
        var lease = (await queue.Lease("w"))!;
        Assert.False((await queue.Renew(lease.LeaseId, Progress with { Loss = double.NaN })).Accepted);
        Assert.False((await queue.Renew(lease.LeaseId, Progress with { Iteration = -1 })).Accepted);
        Assert.False((await queue.Renew(lease.LeaseId, Progress with { ValidationPsnr = -3 })).Accepted);
        Assert.Null((await queue.Get("a"))!.Progress);
        var accepted = await queue.Renew(lease.LeaseId, Progress);
        Assert.True(accepted.Accepted);
        Assert.True(accepted.ExpiresUtc > lease.ExpiresUtc);
        Assert.Equal(Progress, (await queue.Get("a"))!.Progress);
    }

    [Fact]
    public async Task An_expired_lease_requeues_its_job_under_a_new_epoch_and_a_stale_lease_is_refused()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("a", 0, ""));
        var first = (await queue.Lease("crashed-1"))!;
        Assert.Equal(1, first.Epoch);
        await Task.Delay(ClusterFixture.LeaseDuration + TimeSpan.FromSeconds(0.5));
        Assert.False((await queue.Complete(first.LeaseId, "late")).Accepted);
        Assert.False((await queue.Renew(first.LeaseId, Progress)).Accepted);

        var second = (await queue.Lease("crashed-2"))!;
        Assert.Equal("a", second.JobId);
        Assert.Equal(2, second.Epoch);
        await Task.Delay(ClusterFixture.LeaseDuration + TimeSpan.FromSeconds(0.5));
        // The queue never ends a job on its own: its owner's retry rule decides (CandidateLifecycleTests).
        var view = (await queue.Get("a"))!;
        Assert.Equal(JobStatus.Queued, view.Status);
        Assert.Equal(2, view.LostLeases);
        Assert.All(view.Errors, e => Assert.Contains("expired", e));
    }

    [Fact]
    public async Task Cancel_ends_a_queued_job_and_tells_a_leased_one_at_its_next_heartbeat()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("queued", 0, ""));
        await queue.Enqueue(new WorkItem("leased", 1, ""));
        var lease = (await queue.Lease("w"))!;
        Assert.Equal("leased", lease.JobId);
        await queue.Cancel("queued");
        await queue.Cancel("leased");
        Assert.Equal(JobStatus.Cancelled, (await queue.Get("queued"))!.Status);
        var beat = await queue.Renew(lease.LeaseId, Progress);
        Assert.True(beat.Accepted);
        Assert.True(beat.Cancelled);
        Assert.True((await queue.Release(lease.LeaseId, "cancelled")).Accepted);
        Assert.Equal(JobStatus.Cancelled, (await queue.Get("leased"))!.Status);
        Assert.Null(await queue.Lease("w"));
    }

    [Fact]
    public async Task A_released_lease_puts_its_job_back_at_once()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("a", 0, ""));
        var first = (await queue.Lease("stopping"))!;
        Assert.True((await queue.Release(first.LeaseId, "the worker is stopping")).Accepted);
        var second = (await queue.Lease("w"))!;
        Assert.Equal(2, second.Epoch);
        Assert.Equal(0, (await queue.Get("a"))!.LostLeases);
    }

    [Fact]
    public async Task Heartbeats_keep_a_lease_alive_past_its_first_expiry()
    {
        var queue = NewQueue();
        await queue.Enqueue(new WorkItem("a", 0, ""));
        var lease = (await queue.Lease("w"))!;
        for (var i = 0; i < 4; i++)
        {
            await Task.Delay(ClusterFixture.LeaseDuration / 3);
            Assert.True((await queue.Renew(lease.LeaseId, Progress with { Iteration = i })).Accepted);
        }
        Assert.True((await queue.Complete(lease.LeaseId, "ok")).Accepted);
    }

    [Fact]
    public async Task Concurrent_workers_lease_every_job_exactly_once()
    {
        var queue = NewQueue();
        for (var i = 0; i < 40; i++)
            await queue.Enqueue(new WorkItem($"job-{i}", i % 3, ""));
        var leased = new System.Collections.Concurrent.ConcurrentBag<string>();
        var workers = Enumerable.Range(0, 6).Select(async w =>
        {
            while (await queue.Lease($"worker-{w}") is { } lease)
            {
                leased.Add(lease.JobId);
                Assert.True((await queue.Complete(lease.LeaseId, "ok")).Accepted);
            }
        });
        await Task.WhenAll(workers);
        Assert.Equal(40, leased.Count);
        Assert.Equal(40, leased.Distinct().Count());
        Assert.Equal((0, 0, 40, 0, 0), (await queue.Summary()).Counts);
    }

    [Fact]
    public async Task Ended_jobs_out_of_memory_are_still_counted_read_and_queued_again_by_their_owner()
    {
        var queue = NewQueue();
        // Three pages of 128: the first two end whole and leave memory.
        for (var i = 0; i < 300; i++)
            await queue.Enqueue(new WorkItem($"job-{i}", 0, ""));
        // Each job ends right after its lease, so no lease ages past the fixture's short duration on a slow machine.
        var leases = new List<JobLease>();
        for (var i = 0; i < 291; i++)
        {
            var lease = (await queue.Lease("w"))!;
            leases.Add(lease);
            var ended = i < 290
                ? await queue.Complete(lease.LeaseId, $"result of {lease.JobId}")
                : await queue.Fail(lease.LeaseId, "broken", retry: false);
            Assert.True(ended.Accepted, lease.JobId);
        }
        while (await queue.Lease("w") is { } lease)
            leases.Add(lease);
        // Leased, so only asked to stop: it stays leased until its worker hands it back.
        await queue.Cancel("job-291");

        Assert.Equal((0, 9, 290, 1, 0), (await queue.Summary()).Counts);
        Assert.Equal("result of job-3", (await queue.Get("job-3"))!.Result);
        Assert.True((await queue.Complete(leases[3].LeaseId, "again")).Accepted);
        Assert.Equal("result of job-3", (await queue.Get("job-3"))!.Result);

        Assert.True(await queue.Enqueue(new WorkItem("job-7", 0, "")));
        Assert.False(await queue.Enqueue(new WorkItem("job-7", 0, "")));
        var again = (await queue.Lease("w2"))!;
        Assert.Equal(("job-7", 2), (again.JobId, again.Epoch));
        Assert.Equal((0, 10, 289, 1, 0), (await queue.Summary()).Counts);
    }
}
