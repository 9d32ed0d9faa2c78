using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Grains;

using SrMobile.Silo.Training;
using SrMobile.Training.Trainer;

namespace SrMobile.Silo.Workers;

/// <summary>Trainer role settings (configuration section <c>SrMobile:Trainer</c>).</summary>
public sealed class TrainerOptions
{
    public const string Section = "SrMobile:Trainer";

    /// <summary>Candidate folders (checkpoints, ONNX files, records) live here.</summary>
    public string WorkFolder { get; set; } = Path.Combine(Environment.CurrentDirectory, ".srmobile", "work");

    public int Threads { get; set; }

    /// <summary>Jobs run side by side (1 for a GPU or a small CPU; more only for simulated work).</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>Attempts in all for a job whose training failed (not for bad input, which fails at once).</summary>
    public int MaxAttempts { get; set; } = 3;
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";
}

/// <summary>
/// The trainer role's hosted service: leases training jobs, runs the <see cref="ICandidateTrainer"/> (the real
/// <see cref="CandidatePipeline"/>, or <see cref="SimulatedWork"/>) on a worker thread,
/// heartbeats progress (a rejected heartbeat means the lease is gone: the run stops, its checkpoints stay for whoever
/// leases the job next), puts the artifacts into the <see cref="IArtifactStore"/>, and completes or fails the lease.
/// </summary>
public sealed class TrainerWorker(
    IGrainFactory grains, ICandidateTrainer trainer, IArtifactStore artifacts, IOptions<TrainerOptions> options, ILogger<TrainerWorker> log, MachineGate? gate = null)
    : LeasingWorker(grains, log, gate)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    protected override string Pool => CandidateGrain.TrainerPool;
    protected override string WorkerId => options.Value.WorkerId;
    protected override TimeSpan PollInterval => options.Value.PollInterval;
    protected override int Concurrency => options.Value.Concurrency;
    protected override int MaxAttempts => options.Value.MaxAttempts;

    protected override async Task Run(IWorkQueueGrain queue, JobLease lease, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var candidate = Grains.GetGrain<ICandidateGrain>(lease.Payload);
        var view = await candidate.Get();
        if (view.Spec is null || view.Stage is CandidateStage.Cancelled or CandidateStage.Failed or CandidateStage.Done)
        {
            await queue.Complete(lease.LeaseId, $"skipped: candidate is {view.Stage}");
            return;
        }
        // A requeued job finds its candidate still training or quantizing; it resumes from the checkpoints on disk.
        if (view.Stage == CandidateStage.Queued)
            await candidate.MoveTo(CandidateStage.Training);
        Log.LogInformation("training {Candidate} (attempt {Attempt})", lease.Payload, lease.Attempt);

        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var clock = Stopwatch.StartNew();
        var lastBeat = TimeSpan.Zero;
        var stage = "training";
        void Report(string newStage, TrainingProgress? progress)
        {
            if (newStage != stage)
            {
                stage = newStage;
                if (newStage == "quantizing")
                    candidate.MoveTo(CandidateStage.Quantizing).GetAwaiter().GetResult();
            }
            if (clock.Elapsed - lastBeat < settings.HeartbeatInterval && progress is not null)
                return;
            lastBeat = clock.Elapsed;
            var beat = new JobProgress(stage, progress?.Iteration ?? 0, progress is { Loss: var l } && double.IsFinite(l) ? l : 0,
                progress?.LastValidation?.GetValueOrDefault(Metrics.PsnrY));
            if (!queue.Renew(lease.LeaseId, beat).GetAwaiter().GetResult().Accepted)
                leaseLost.Cancel();
        }

        try
        {
            var trained = await Task.Run(() => trainer.Run(view.Spec, Report, leaseLost.Token), CancellationToken.None);
            var result = trained with { Artifacts = await Store(trained.Artifacts, settings.WorkFolder, leaseLost.Token) };
            if (stage != "quantizing")
                await candidate.MoveTo(CandidateStage.Quantizing);
            await candidate.RecordTrained(result);
            var outcome = await queue.Complete(lease.LeaseId, JsonSerializer.Serialize(result, Json));
            if (!outcome.Accepted)
                Log.LogWarning("completing {Candidate} was refused: {Reason}", lease.Payload, outcome.Reason);
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested)
        {
            Log.LogWarning("stopped {Candidate}: the lease was lost or the silo is stopping; its checkpoints stay for the next attempt", lease.Payload);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // Only a failure of the work itself fails the candidate; a silo going down mid-run is not one (the lease
            // expires and another trainer resumes the job).
            var retry = WorthRetrying(e, lease);
            Log.LogError(e, "training {Candidate} failed (attempt {Attempt}{Retry})", lease.Payload, lease.Attempt, retry ? ", requeued" : "");
            await queue.Fail(lease.LeaseId, e.Message, retry);
            await candidate.MoveTo(retry ? CandidateStage.Queued : CandidateStage.Failed, e.Message);
        }
    }

    /// <summary>
    /// The pipeline records its files where it wrote them; the store makes them reachable by the device roles (a blob
    /// in the azure storage kind), keyed by their place under the work folder.
    /// </summary>
    private async Task<IReadOnlyList<Artifact>> Store(IReadOnlyList<Artifact> written, string workFolder, CancellationToken cancellation)
    {
        var stored = new List<Artifact>(written.Count);
        foreach (var artifact in written)
        {
            var path = new Uri(artifact.Uri).LocalPath;
            var key = Path.GetRelativePath(Path.GetFullPath(workFolder), path).Replace(Path.DirectorySeparatorChar, '/');
            var put = await artifacts.Put(artifact.Kind, key, path, cancellation);
            if (put.Sha256 != artifact.Sha256)
                throw new InvalidDataException($"{path} changed between training and storing it: SHA-256 {artifact.Sha256}, stored {put.Sha256}");
            stored.Add(put);
        }
        return stored;
    }
}
