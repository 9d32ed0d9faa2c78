using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

/// <summary>
/// A candidate's life driven the way workers drive it: real leases from the real queues, reports to the candidate.
/// Each test's search has a priority above every earlier one's, so the shared trainer queue leases its jobs first.
/// </summary>
public class CandidateLifecycleTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static int priority = 100;
    private static readonly TrainedCandidate Result = new(30, 29.9, 0.9, 10, []);

    private IWorkQueueGrain Trainers => fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);

    private async Task<(ISearchGrain Search, List<CandidateSpec> Candidates)> Submit(string devices, string depths = "[1]", string extra = "")
    {
        var name = $"life-{Guid.NewGuid():N}"[..20];
        var text = $$"""
            name: {{name}}
            scales: [3]
            depths: {{depths}}
            widths: [8]
            quantization: [{kind: ptq}]
            datasets: {train: data/train}
            devices: {{devices}}
            priority: {{Interlocked.Increment(ref priority)}}
            {{extra}}
            """;
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        var submitted = await search.Submit(text);
        Assert.True(submitted.Accepted, string.Join("; ", submitted.Errors));
        await SearchExpansion.Expanded(search);
        return (search, SearchGrid.Expand(SearchSpecReader.Parse(text).Spec!).ToList());
    }

    private static string Device() => $"dev-{Guid.NewGuid():N}"[..12];

    private async Task<JobLease> LeaseTraining(CandidateSpec candidate)
    {
        var lease = (await Trainers.Lease("trainer-under-test"))!;
        Assert.Equal(candidate.TrainingJobId, lease.JobId);
        return lease;
    }

    /// <summary>The candidates in the order their (equal-priority) jobs were enqueued, which is the order they are leased in.</summary>
    private async Task<List<CandidateSpec>> LeaseOrder(List<CandidateSpec> candidates)
    {
        var views = await Task.WhenAll(candidates.Select(c => Trainers.Get(c.TrainingJobId)));
        Assert.All(views, v => Assert.Equal(JobStatus.Queued, v!.Status));
        return [.. candidates.Zip(views).OrderBy(p => p.Second!.QueuedSinceUtc).Select(p => p.First)];
    }

    private static async Task<CandidateView> WaitFor(ICandidateGrain candidate, Func<CandidateView, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        CandidateView view;
        while (!condition(view = await candidate.Get()) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.True(condition(view), $"candidate is {view.Stage}: {string.Join("; ", view.Errors)}");
        return view;
    }

    private static async Task<SearchStatus> Finished(ISearchGrain search)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        SearchStatus status;
        while (!(status = await search.Status()).Finished && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.True(status.Finished, $"search not finished: {string.Join(", ", status.Stages)}, {status.Confirming} front(s) confirming");
        return status;
    }

    [Fact]
    public async Task A_search_is_done_once_its_front_is_confirmed_by_one_interleaved_run_of_its_near_front_candidates()
    {
        var tv = Device();
        var (search, candidates) = await Submit($"[{tv}]", depths: "[1, 2]");
        candidates = await LeaseOrder(candidates);
        var session = await DeviceSessions.Join(fixture.Grains, tv, $"board-{Guid.NewGuid():N}");
        var devices = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(tv));
        // Two candidates 2 % apart: a noisy first measurement may have ordered them either way.
        foreach (var (spec, ms) in candidates.Zip([50.0, 51.0]))
        {
            var candidate = fixture.Grains.GetGrain<ICandidateGrain>(spec.Key);
            var lease = await LeaseTraining(spec);
            Assert.True((await candidate.TrainingStarted(lease)).Accepted);
            Assert.True((await candidate.Trained(lease, Result)).Accepted);
            var measuring = (await devices.Lease("board", session.Id))!;
            Assert.True((await candidate.MeasurementStarted(measuring)).Accepted);
            Assert.True((await candidate.Measured(measuring, new DeviceMeasurement(tv, ms, ms, 5, "e", 29.9, 0.9, "{}"))).Accepted);
        }

        // Every candidate is done, yet the search is not: its front waits for the confirmation job.
        var status = await search.Status();
        Assert.True(status.AllEnded);
        Assert.False(status.Finished);
        JobLease? confirming = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); confirming is null && DateTime.UtcNow < deadline; await Task.Delay(100))
            confirming = await devices.Lease("board", session.Id);
        Assert.NotNull(confirming);
        var front = fixture.Grains.GetGrain<IParetoGrain>(candidates[0].ParetoKey(tv));
        var plan = await front.ConfirmationStarted(confirming);
        Assert.Equal(candidates.Select(c => c.Key).Order(), plan.Candidates.Order());
        Assert.Equal(1, (await search.Status()).Confirming);

        Assert.True((await front.Confirmed(confirming, [new(candidates[0].Key, 52, 0.01, "{}"), new(candidates[1].Key, 50.5, 0.01, "{}")])).Accepted);
        await Finished(search);
        var view = await front.Get();
        Assert.Equal([candidates[1].Key], view.Front.Select(p => p.CandidateKey)); // the same PSNR, now confirmed faster
        Assert.Equal([(50.5, 51.0), (52.0, 50.0)], view.All.Select(p => (p.MedianMs, p.FirstMs!.Value)));
    }

    [Fact]
    public async Task Workers_report_with_their_lease_and_the_candidate_decides_every_step()
    {
        var tv = Device();
        var (search, candidates) = await Submit($"[{tv}]");
        var candidate = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        var lease = await LeaseTraining(candidates[0]);

        var started = await candidate.TrainingStarted(lease);
        Assert.True(started.Accepted);
        Assert.Equal(candidates[0].Key, started.View!.Spec!.Key);
        Assert.True((await candidate.QuantizingStarted(lease)).Accepted);
        Assert.Equal(CandidateStage.Quantizing, (await candidate.Get()).Stage);
        Assert.True((await candidate.Trained(lease, Result)).Accepted);
        // The candidate completed the lease itself, and asked for the measurement.
        Assert.Equal(JobStatus.Completed, (await Trainers.Get(candidates[0].TrainingJobId))!.Status);
        var devices = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(tv));
        var measuring = (await devices.Lease("board", (await DeviceSessions.Join(fixture.Grains, tv, $"board-{Guid.NewGuid():N}")).Id))!;
        Assert.True((await candidate.MeasurementStarted(measuring)).Accepted);
        Assert.False((await candidate.Measured(measuring, new DeviceMeasurement(tv, double.NaN, 1, 1, "e", 29.9, 0.9, "{}"))).Accepted);
        Assert.False((await candidate.Measured(measuring, new DeviceMeasurement("phone", 10, 11, 1, "e", 29.9, 0.9, "{}"))).Accepted);
        Assert.True((await candidate.Measured(measuring, new DeviceMeasurement(tv, 12, 13, 5, "e", 29.9, 0.9, "{}"))).Accepted);
        // A retried report of the same lease (its answer was lost) is accepted and stores nothing twice.
        Assert.True((await candidate.Measured(measuring, new DeviceMeasurement(tv, 12, 13, 5, "e", 29.9, 0.9, "{}"))).Accepted);

        var view = await candidate.Get();
        Assert.Equal((CandidateStage.Done, 1, 1), (view.Stage, view.Attempts, view.Measurements.Count));
        // Its on-device PSNR is the trainer's: nothing flagged.
        Assert.DoesNotContain(view.Errors, e => e.Contains("on-device int8 PSNR", StringComparison.Ordinal));
        Assert.Single((await fixture.Grains.GetGrain<IParetoGrain>(candidates[0].ParetoKey(tv)).Get()).All);
        // A front of one point has no neighbour to be confirmed against: the search is done within a watch or two.
        await Finished(search);
    }

    [Fact]
    public async Task A_stale_worker_reporting_after_another_took_the_job_is_refused_and_nothing_changes()
    {
        var (_, candidates) = await Submit($"[{Device()}]");
        var candidate = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        var stale = await LeaseTraining(candidates[0]);
        Assert.True((await candidate.TrainingStarted(stale)).Accepted);
        await WaitFor(candidate, v => v.Stage == CandidateStage.Queued); // its lease expired: the queue told the candidate

        var current = await LeaseTraining(candidates[0]);
        Assert.Equal(stale.Epoch + 1, current.Epoch);
        Assert.True((await candidate.TrainingStarted(current)).Accepted);
        Assert.True((await candidate.Trained(current, Result)).Accepted);
        var before = await candidate.Get();

        Assert.False((await candidate.Trained(stale, Result with { Int8Psnr = 31 })).Accepted);
        Assert.False((await candidate.WorkFailed(stale, "late failure", retryable: false)).Accepted);
        Assert.False((await candidate.TrainingStarted(stale)).Accepted);
        var after = await candidate.Get();
        Assert.Equal((before.Stage, before.Version, before.Trained, before.Attempts), (after.Stage, after.Version, after.Trained, after.Attempts));
        Assert.Equal(29.9, after.Trained!.Int8Psnr);
    }

    [Fact]
    public async Task A_job_whose_leases_keep_expiring_fails_its_candidate_with_the_reason_and_the_search_finishes()
    {
        var (search, candidates) = await Submit($"[{Device()}]");
        var candidate = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        for (var lost = 1; lost <= 2; lost++) // ClusterFixture: MaxLostLeases 2
        {
            var lease = await LeaseTraining(candidates[0]);
            Assert.True((await candidate.TrainingStarted(lease)).Accepted);
            await WaitFor(candidate, v => v.Stage is CandidateStage.Queued or CandidateStage.Failed);
        }
        var view = await WaitFor(candidate, v => v.Stage == CandidateStage.Failed);
        Assert.Contains(view.Errors, e => e.Contains("lost 2 leases") && e.Contains("expired"));
        Assert.Equal(JobStatus.Cancelled, (await Trainers.Get(candidates[0].TrainingJobId))!.Status);
        var status = await Finished(search);
        Assert.Equal(1, status.Stages[CandidateStage.Failed]);
    }

    [Fact]
    public async Task A_failure_is_retried_by_the_one_rule_and_bad_input_fails_at_once()
    {
        var (_, candidates) = await Submit($"[{Device()}]", depths: "[1, 2]");
        candidates = await LeaseOrder(candidates);
        var passing = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        var first = await LeaseTraining(candidates[0]);
        Assert.True((await passing.TrainingStarted(first)).Accepted);
        Assert.True((await passing.WorkFailed(first, "native library error", retryable: true)).Accepted);
        Assert.Equal(CandidateStage.Queued, (await passing.Get()).Stage);
        var second = await LeaseTraining(candidates[0]);
        Assert.True((await passing.TrainingStarted(second)).Accepted);
        Assert.Equal(2, (await passing.Get()).Attempts);

        var bad = fixture.Grains.GetGrain<ICandidateGrain>(candidates[1].Key);
        var lease = await LeaseTraining(candidates[1]);
        Assert.True((await bad.TrainingStarted(lease)).Accepted);
        Assert.True((await bad.WorkFailed(lease, "datasets.train: no such folder", retryable: false)).Accepted);
        var view = await bad.Get();
        Assert.Equal(CandidateStage.Failed, view.Stage);
        Assert.Contains(view.Errors, e => e.Contains("no such folder"));
        Assert.Equal(JobStatus.Failed, (await Trainers.Get(candidates[1].TrainingJobId))!.Status);
    }

    [Fact]
    public async Task Cancel_tells_the_running_job_at_its_next_heartbeat_and_ends_the_queued_ones()
    {
        var (search, candidates) = await Submit($"[{Device()}]", depths: "[1, 2]");
        candidates = await LeaseOrder(candidates);
        var running = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        var lease = await LeaseTraining(candidates[0]);
        Assert.True((await running.TrainingStarted(lease)).Accepted);

        await search.Cancel();
        var beat = await Trainers.Renew(lease.LeaseId, new JobProgress("training", 5, 1, null));
        Assert.True(beat.Cancelled);
        Assert.Equal(JobStatus.Cancelled, (await Trainers.Get(candidates[1].TrainingJobId))!.Status);
        Assert.True((await Trainers.Release(lease.LeaseId, "cancelled")).Accepted);
        Assert.Equal(JobStatus.Cancelled, (await Trainers.Get(candidates[0].TrainingJobId))!.Status);
        Assert.False((await running.Trained(lease, Result)).Accepted);
        var status = await search.Status();
        Assert.Equal(2, status.Stages[CandidateStage.Cancelled]);
        Assert.True(status.Finished);
    }

    [Fact]
    public async Task A_device_key_nobody_serves_shows_as_a_stall_and_device_timeout_fails_its_candidates_naming_the_key()
    {
        var nobody = Device();
        var (search, candidates) = await Submit($"[{nobody}]", extra: "device_timeout: 1");
        var candidate = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        var lease = await LeaseTraining(candidates[0]);
        Assert.True((await candidate.TrainingStarted(lease)).Accepted);
        Assert.True((await candidate.Trained(lease, Result)).Accepted);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        SearchStatus status;
        while ((status = await search.Status()).Stalls is not [_, ..] && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        var stall = Assert.Single(status.Stalls!);
        Assert.Equal(CandidateSpec.DevicePool(nobody), stall.Pool);
        Assert.Contains($"waiting for device key '{nobody}'", stall.Reason);

        var view = await WaitFor(candidate, v => v.Stage == CandidateStage.Failed);
        Assert.Contains(view.Errors, e => e.Contains($"device key '{nobody}'") && e.Contains("device_timeout"));
        Assert.Equal(JobStatus.Cancelled, (await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(nobody)).Get(candidates[0].MeasurementJobId(nobody)))!.Status);
    }

    [Fact]
    public async Task A_crash_between_the_two_writes_of_each_cross_grain_step_is_repaired()
    {
        var tv = Device();
        var (search, candidates) = await Submit($"[{tv}]");
        var spec = candidates[0];
        var candidate = fixture.Grains.GetGrain<ICandidateGrain>(spec.Key);
        var devices = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(tv));
        var lease = await LeaseTraining(spec);
        Assert.True((await candidate.TrainingStarted(lease)).Accepted);

        // 1. The queue ended the lease, the candidate's own write never happened: the worker's retried report is taken.
        FaultInjection.FailWrite = (name, id) => name == "candidate" && id.ToString().Contains(spec.Key);
        await Assert.ThrowsAnyAsync<Exception>(() => candidate.Trained(lease, Result));
        FaultInjection.FailWrite = null;
        Assert.Equal(JobStatus.Completed, (await Trainers.Get(spec.TrainingJobId))!.Status);
        Assert.True((await candidate.Trained(lease, Result)).Accepted);
        Assert.Equal(CandidateStage.Measuring, (await candidate.Get()).Stage);

        // 2. Measuring stored, the measurement job never enqueued: the repair enqueues it.
        var second = (await Submit($"[{tv}]")).Candidates[0];
        var other = fixture.Grains.GetGrain<ICandidateGrain>(second.Key);
        // The search's own first watch repairs every candidate once; let it pass, so the repair below is the one that acts.
        await Task.Delay(ClusterFixture.SearchWatchPeriod * 3);
        var otherLease = await LeaseTraining(second);
        Assert.True((await other.TrainingStarted(otherLease)).Accepted);
        FaultInjection.FailWrite = (name, id) => name.StartsWith("queue", StringComparison.Ordinal) && id.ToString().Contains(CandidateSpec.DevicePool(tv));
        await Assert.ThrowsAnyAsync<Exception>(() => other.Trained(otherLease, Result));
        FaultInjection.FailWrite = null;
        Assert.Equal(CandidateStage.Measuring, (await other.Get()).Stage);
        Assert.Null(await devices.Get(second.MeasurementJobId(tv)));
        await other.Repair();
        Assert.Equal(JobStatus.Queued, (await devices.Get(second.MeasurementJobId(tv)))!.Status);

        // 3. Done stored, the front never told: the repair reports the stored measurement again.
        var measuring = (await devices.Lease("board", (await DeviceSessions.Join(fixture.Grains, tv, $"board-{Guid.NewGuid():N}")).Id))!;
        var target = measuring.JobId == spec.MeasurementJobId(tv) ? candidate : other;
        var targetSpec = target == candidate ? spec : second;
        Assert.True((await target.MeasurementStarted(measuring)).Accepted);
        FaultInjection.FailWrite = (name, id) => name.StartsWith("pareto", StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<Exception>(() => target.Measured(measuring, new DeviceMeasurement(tv, 12, 13, 5, "e", 29.9, 0.9, "{}")));
        FaultInjection.FailWrite = null;
        Assert.Equal(CandidateStage.Done, (await target.Get()).Stage);
        var front = fixture.Grains.GetGrain<IParetoGrain>(targetSpec.ParetoKey(tv));
        Assert.Empty((await front.Get()).All);
        await target.Repair();
        Assert.Equal([targetSpec.Key], (await front.Get()).All.Select(p => p.CandidateKey));
    }

    [Fact]
    public async Task A_device_whose_own_int8_psnr_differs_from_the_trainers_by_more_than_a_hundredth_of_a_db_is_flagged()
    {
        var tv = Device();
        var (_, candidates) = await Submit($"[{tv}]");
        var candidate = fixture.Grains.GetGrain<ICandidateGrain>(candidates[0].Key);
        var lease = await LeaseTraining(candidates[0]);
        Assert.True((await candidate.TrainingStarted(lease)).Accepted);
        Assert.True((await candidate.Trained(lease, Result)).Accepted);
        var devices = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(tv));
        var measuring = (await devices.Lease("board", (await DeviceSessions.Join(fixture.Grains, tv, $"board-{Guid.NewGuid():N}")).Id))!;
        Assert.True((await candidate.MeasurementStarted(measuring)).Accepted);
        Assert.True((await candidate.Measured(measuring, new DeviceMeasurement(tv, 12, 13, 5, "e", 29.85, 0.9, "{}"))).Accepted);

        var view = await candidate.Get();
        Assert.Equal(CandidateStage.Done, view.Stage);
        Assert.Contains(view.Errors, e => e.Contains($"{tv}: on-device int8 PSNR 29.850 dB (uint8 activations) differs from the trainer's int8 evaluation 29.900 dB by 0.050 dB", StringComparison.Ordinal));
    }
}
