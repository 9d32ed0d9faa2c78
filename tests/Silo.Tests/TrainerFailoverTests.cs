using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

public class TrainerFailoverTests
{
    [Fact]
    public async Task Killing_the_training_silo_requeues_the_job_and_another_trainer_finishes_it_from_its_checkpoint()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var cluster = await SiloTestCluster.Start<CoordinatorAndTrainers>(work, 3,
            ("SrMobile:Trainer:HeartbeatInterval", "00:00:00.3"),
            // Generous against heartbeats delayed by a loaded machine (CI runs test projects side by side).
            ("SrMobile:WorkQueue:LeaseDuration", "00:00:05"),
            ("SrMobile:WorkQueue:ExpiryCheckPeriod", "00:00:00.5"));
        var key = await SiloTestCluster.SubmitOneCandidate(cluster, "failover", 2, 16, "{iterations: 400, batch_size: 8, patch_size: 32, lr: 2.0e-3}");
        var queue = cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        var jobId = $"{key}/train";

        // Wait until the job is well into training (past its first checkpoint at iteration 80), then kill its silo.
        var deadline = DateTime.UtcNow.AddMinutes(8);
        JobView? job;
        while (((job = await queue.Get(jobId))?.Progress?.Iteration ?? 0) < 120 && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.True(job?.Progress?.Iteration >= 120, $"job never got going: {job?.Status}");
        var first = job!.WorkerId!;
        await cluster.KillSiloAsync(cluster.Silos.Single(s => s.Name == first));

        var view = await SiloTestCluster.WaitFor(cluster.GrainFactory.GetGrain<ICandidateGrain>(key), CandidateStage.Measuring);

        job = await SiloTestCluster.WaitFor(queue, jobId, JobStatus.Completed);
        Assert.Equal(2, job.Epoch);
        // The in-process kill still stops the silo's hosted services, so the first worker hands its lease back.
        Assert.Contains(job.Errors, e => e.Contains("handed back") || e.Contains("expired"));
        Assert.NotEqual(first, job.WorkerId);
        Assert.Equal(400, view.Trained!.Iterations);
        // The second attempt resumed: its log starts with "resume at iteration", not a fresh start.
        var log = File.ReadAllText(Directory.GetFiles(work.File("work"), "float.log", SearchOption.AllDirectories).Single());
        Assert.Contains("resume at iteration", log);
        await cluster.StopAllSilosAsync();
    }
}
