using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

public class WorkerFailureTests
{
    [Fact]
    public async Task A_training_that_fails_for_a_passing_reason_is_requeued_and_completes_on_its_next_attempt()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var cluster = await SiloTestCluster.Start<EveryRole>(work, 1,
            ("SrMobile:Simulate", "true"), ("SrMobile:Simulated:FailingAttempts", "1"));
        const string Spec = """
            name: flaky
            scales: [3]
            depths: [1, 2]
            widths: [8]
            quantization: [{kind: ptq}]
            datasets: {train: simulated}
            devices: [local]
            """;
        var search = cluster.GrainFactory.GetGrain<ISearchGrain>("flaky");
        Assert.True((await search.Submit(Spec)).Accepted);
        foreach (var candidate in SearchGrid.Expand(SearchSpecReader.Parse(Spec).Spec!))
        {
            var view = await SiloTestCluster.WaitFor(cluster.GrainFactory.GetGrain<ICandidateGrain>(candidate.Key), CandidateStage.Done);
            Assert.Equal(2, view.Attempts);
            Assert.Contains(view.Errors, e => e.Contains("simulated failure"));
            var job = (await cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Get(candidate.TrainingJobId))!;
            Assert.Equal((JobStatus.Completed, 2), (job.Status, job.Epoch));
        }
    }

    [Fact]
    public async Task A_training_that_fails_on_bad_input_fails_its_candidate_at_once_naming_the_problem()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var cluster = await SiloTestCluster.Start<EveryRole>(work, 1);
        var missing = work.File("no-such-photos");
        var spec = $$"""
            name: broken
            scales: [3]
            depths: [1]
            widths: [4]
            quantization: [{kind: ptq}]
            training: {iterations: 10, batch_size: 2, patch_size: 16}
            datasets: {train: "{{missing}}"}
            devices: [local]
            """;
        var search = cluster.GrainFactory.GetGrain<ISearchGrain>("broken");
        Assert.True((await search.Submit(spec)).Accepted);
        var key = SearchGrid.Expand(SearchSpecReader.Parse(spec).Spec!).Single().Key;
        var candidate = cluster.GrainFactory.GetGrain<ICandidateGrain>(key);

        var deadline = DateTime.UtcNow.AddMinutes(2);
        CandidateView view;
        while ((view = await candidate.Get()).Stage != CandidateStage.Failed && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        Assert.Equal(CandidateStage.Failed, view.Stage);
        Assert.Equal(1, view.Attempts);
        Assert.Contains(view.Errors, e => e.Contains(missing));
        Assert.Equal(1, (await SearchExpansion.Expanded(search)).Stages[CandidateStage.Failed]);
    }
}
