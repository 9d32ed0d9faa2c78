using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

public class TwoTrainerGridTests
{
    [Fact]
    public async Task A_two_trainer_cluster_runs_a_grid_and_every_candidate_completes_exactly_once()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var cluster = await SiloTestCluster.Start<CoordinatorAndTrainers>(work, 3,
            ("Test:PrimaryRoles", "coordinator,device"),
            ("SrMobile:Simulate", "true"),
            // Leases shorter than the jobs: every job lives on heartbeats, so the expiry paths are exercised. Not much
            // shorter: three heartbeats lost to a starved thread pool on a loaded 2-core machine would fail a candidate.
            ("SrMobile:WorkQueue:LeaseDuration", "00:00:02"),
            ("SrMobile:WorkQueue:ExpiryCheckPeriod", "00:00:00.2"),
            ("SrMobile:Simulated:TrainingTime", "00:00:02.5"),
            ("SrMobile:Simulated:MeasurementTime", "00:00:02.2"),
            ("SrMobile:Trainer:Concurrency", "2"),
            ("SrMobile:Device:Concurrency", "4"));
        const string Spec = """
            name: grid
            scales: [2, 3]
            depths: [1, 2, 3, 4, 5]
            widths: [8, 16, 24, 32]
            quantization: [{kind: ptq}, {kind: qat, iterations: 10}]
            datasets: {train: simulated}
            devices: [local]
            """;
        var search = cluster.GrainFactory.GetGrain<ISearchGrain>("grid");
        Assert.True((await search.Submit(Spec)).Accepted);
        var candidates = SearchGrid.Expand(SearchSpecReader.Parse(Spec).Spec!).ToList();
        Assert.Equal(80, candidates.Count);

        var deadline = DateTime.UtcNow.AddMinutes(5);
        SearchStatus status;
        while ((status = await search.Status()).Stages.GetValueOrDefault(CandidateStage.Done) < 80 && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        if (status.Stages.GetValueOrDefault(CandidateStage.Done) < 80)
        {
            var unfinished = new List<string>();
            foreach (var candidate in candidates)
            {
                var view = await cluster.GrainFactory.GetGrain<ICandidateGrain>(candidate.Key).Get();
                if (view.Stage != CandidateStage.Done)
                    unfinished.Add($"{view.Key}: {view.Stage}, attempt {view.Attempts}, {string.Join("; ", view.Errors)}");
            }
            Assert.Fail($"{unfinished.Count} of 80 candidates not done: {string.Join(" | ", unfinished)}");
        }

        // Then each front's near-front candidates are confirmed in one interleaved run before the search is done.
        while (!(status = await search.Status()).Finished && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        Assert.True(status.Finished, $"{status.Confirming} front(s) still confirming");
        var confirmations = 0;
        foreach (var scale in new[] { 2, 3 })
        {
            var front = await cluster.GrainFactory.GetGrain<IParetoGrain>($"grid/x{scale}/local").Get();
            Assert.Equal(ConfirmationStatus.Confirmed, front.Confirmation!.Status);
            Assert.Equal(ParetoMath.NearFront(front.All).Take(Grains.ParetoGrain.MaxConfirmed).Select(p => p.CandidateKey).Order(), front.Confirmation.Candidates.Order());
            // Simulated work measures the same numbers again: confirmed points keep their times and say they were confirmed.
            Assert.All(front.All, p => Assert.Equal(front.Confirmation.Candidates.Contains(p.CandidateKey), p.Confirmed));
            Assert.All(front.All.Where(p => p.Confirmed), p => Assert.Equal(p.FirstMs!.Value, p.MedianMs, 9));
            Assert.Equal(front.Confirmation.Candidates.Order(), (front.Confirmation.Times ?? []).Select(t => t.CandidateKey).Order());
            confirmations += front.Confirmation.Candidates.Count > 1 ? 1 : 0;
        }

        var trainers = cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        var devices = cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool("local"));
        Assert.Equal((0, 0, 80, 0, 0), (await trainers.Summary()).Counts);
        Assert.Equal((0, 0, 80 + confirmations, 0, 0), (await devices.Summary()).Counts);
        var workers = new HashSet<string>();
        foreach (var candidate in candidates)
        {
            var view = await cluster.GrainFactory.GetGrain<ICandidateGrain>(candidate.Key).Get();
            // Exactly once: one result, one measurement; a lease lost to a starved heartbeat on a loaded machine may
            // cost another start, never a second result.
            Assert.Single(view.Measurements);
            Assert.InRange(view.Attempts, 1, 3);
            var training = (await trainers.Get(candidate.TrainingJobId))!;
            Assert.Equal(JobStatus.Completed, training.Status);
            workers.Add(training.WorkerId!.Split('#')[0]);
        }
        // Both trainer silos took part.
        Assert.Equal(["Secondary_1", "Secondary_2"], workers.Order());
        foreach (var scale in new[] { 2, 3 })
        {
            var front = await cluster.GrainFactory.GetGrain<IParetoGrain>($"grid/x{scale}/local").Get();
            Assert.Equal(40, front.All.Count);
            Assert.Equal(40, front.All.Select(p => p.CandidateKey).Distinct().Count());
            Assert.Equal(ParetoMath.Front(front.All), front.Front);
        }
    }
}
