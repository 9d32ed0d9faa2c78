using SrMobile.Contracts;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class CandidateState
{
    [Id(0)] public CandidateSpec? Spec { get; set; }
    [Id(1)] public CandidateStage Stage { get; set; }
    [Id(2)] public int Attempts { get; set; }
    [Id(3)] public List<string> Errors { get; set; } = [];
    [Id(4)] public TrainedCandidate? Trained { get; set; }
    [Id(5)] public Dictionary<string, DeviceMeasurement> Measurements { get; set; } = [];

    /// <summary>How many times the stage changed: orders the news the search receives.</summary>
    [Id(6)] public int Version { get; set; }
}

/// <summary>See <see cref="ICandidateGrain"/>. The trainer pool's queue is <see cref="TrainerPool"/>.</summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class CandidateGrain(
    [PersistentState("candidate", WorkQueueGrain.StorageName)] IPersistentState<CandidateState> state) : Grain, ICandidateGrain
{
    public const string TrainerPool = "trainer";

    private static readonly Dictionary<CandidateStage, CandidateStage[]> Edges = new()
    {
        [CandidateStage.Queued] = [CandidateStage.Training, CandidateStage.Failed, CandidateStage.Cancelled],
        [CandidateStage.Training] = [CandidateStage.Quantizing, CandidateStage.Queued, CandidateStage.Failed, CandidateStage.Cancelled],
        [CandidateStage.Quantizing] = [CandidateStage.Measuring, CandidateStage.Queued, CandidateStage.Failed, CandidateStage.Cancelled],
        [CandidateStage.Measuring] = [CandidateStage.Done, CandidateStage.Failed, CandidateStage.Cancelled],
        [CandidateStage.Done] = [],
        [CandidateStage.Failed] = [],
        [CandidateStage.Cancelled] = [],
    };

    public async Task Initialize(CandidateSpec spec)
    {
        if (spec.Key != this.GetPrimaryKeyString())
            throw new ArgumentException($"candidate {this.GetPrimaryKeyString()} cannot take the spec of {spec.Key}");
        if (state.State.Spec is null)
        {
            state.State.Spec = spec;
            await Persist(CandidateStage.Queued);
        }
        // Enqueue is idempotent per job id: a second Initialize repairs a crash between the two writes.
        if (state.State.Stage == CandidateStage.Queued)
            await GrainFactory.GetGrain<IWorkQueueGrain>(TrainerPool).Enqueue(new WorkItem(spec.TrainingJobId, spec.Priority, spec.Key));
    }

    public async Task<bool> MoveTo(CandidateStage stage, string? error = null)
    {
        if (state.State.Spec is null || !Edges[state.State.Stage].Contains(stage))
            return false;
        if (stage == CandidateStage.Training)
            state.State.Attempts++;
        if (error is not null)
            state.State.Errors.Add($"{state.State.Stage} → {stage}: {error}");
        await Persist(stage);
        return true;
    }

    public async Task<bool> RecordTrained(TrainedCandidate result)
    {
        if (state.State.Stage != CandidateStage.Quantizing)
            return false;
        state.State.Trained = result;
        await Persist(CandidateStage.Measuring);
        var spec = state.State.Spec!;
        await Task.WhenAll(spec.Devices.Select(device =>
            GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(device)).Enqueue(new WorkItem(spec.MeasurementJobId(device), spec.Priority, spec.Key))));
        return true;
    }

    public async Task<bool> RecordMeasurement(DeviceMeasurement measurement)
    {
        var spec = state.State.Spec;
        if (state.State.Stage != CandidateStage.Measuring || spec is null || !spec.Devices.Contains(measurement.Device))
            return false;
        if (!double.IsFinite(measurement.MedianMs) || measurement.MedianMs <= 0 || !double.IsFinite(measurement.Psnr) || measurement.Psnr <= 0)
            return false;
        state.State.Measurements[measurement.Device] = measurement;
        // A candidate slower than the spec allows on this device is measured and kept, but is no answer for it.
        var withinLimit = !spec.MaxMilliseconds.TryGetValue(measurement.Device, out var limit) || measurement.MedianMs <= limit;
        if (!withinLimit)
            state.State.Errors.Add(FormattableString.Invariant($"{measurement.Device}: {measurement.MedianMs:F2} ms exceeds the constraint of {limit} ms; not on its Pareto front"));
        await Persist(spec.Devices.All(state.State.Measurements.ContainsKey) ? CandidateStage.Done : CandidateStage.Measuring);
        if (withinLimit)
            await GrainFactory.GetGrain<IParetoGrain>(spec.ParetoKey(measurement.Device)).Report(new ParetoPoint(spec.Key, measurement.Psnr, measurement.MedianMs));
        return true;
    }

    public Task<CandidateView> Get() => Task.FromResult(new CandidateView(
        this.GetPrimaryKeyString(), state.State.Stage, state.State.Attempts, [.. state.State.Errors], state.State.Spec, state.State.Trained,
        [.. state.State.Measurements.Values], state.State.Version));

    /// <summary>Stores the state at <paramref name="stage"/>, then tells the search; a failed write deactivates, so memory never runs ahead of storage.</summary>
    private async Task Persist(CandidateStage stage)
    {
        var changed = stage != state.State.Stage || state.State.Version == 0;
        state.State.Stage = stage;
        if (changed)
            state.State.Version++;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
        if (changed)
            await GrainFactory.GetGrain<ISearchGrain>(state.State.Spec!.SearchName).StageChanged(this.GetPrimaryKeyString(), stage, state.State.Version);
    }
}
