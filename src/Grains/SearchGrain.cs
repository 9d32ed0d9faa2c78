using System.Security.Cryptography;
using System.Text;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class SearchState
{
    [Id(0)] public string? SpecText { get; set; }
    [Id(1)] public string? SpecHash { get; set; }
    // Id 2 held the candidate keys; they follow from the spec (Expand) and are no longer stored.
    [Id(3)] public bool Cancelled { get; set; }

    /// <summary>How many candidates (in grid order) have been created and enqueued.</summary>
    [Id(4)] public int Expanded { get; set; }
}

/// <summary>
/// See <see cref="ISearchGrain"/>. Stage counts come from an in-memory map that candidates keep current (their
/// <see cref="ISearchGrain.StageChanged"/> news), built from the candidates themselves on activation, so a status
/// of a 10,000-candidate search is one dictionary pass, not 10,000 calls. A submit stores the spec and returns; the
/// grid is expanded by a timer in batches (no call waits on 10,000 candidates), and the count of expanded candidates
/// is stored after every batch, so an expansion cut by a restart resumes when the search next activates.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class SearchGrain(
    [PersistentState("search", WorkQueueGrain.StorageName)] IPersistentState<SearchState> state) : Grain, ISearchGrain
{
    private const int BatchSize = 500;
    private readonly Dictionary<string, (CandidateStage Stage, int Version)> stages = [];
    private IGrainTimer? expansion;
    private IReadOnlyList<CandidateSpec>? grid;

    /// <summary>The submitted spec's candidates in grid order (empty before a submit), computed once per activation.</summary>
    private IReadOnlyList<CandidateSpec> Grid => grid ??= state.State.SpecText is { } text ? [.. Expand(SearchSpecReader.Parse(text).Spec!)] : [];

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var batch in Grid.Take(state.State.Expanded).Chunk(1000))
        {
            var views = await Task.WhenAll(batch.Select(c => GrainFactory.GetGrain<ICandidateGrain>(c.Key).Get()));
            foreach (var view in views)
                Track(view.Key, view.Stage, view.Version);
        }
        ExpandInBackground();
    }

    public async Task<SubmitResult> Submit(string specText)
    {
        var (spec, errors) = SearchSpecReader.Parse(specText);
        if (spec is null)
            return new SubmitResult(false, false, 0, errors);
        if (spec.Name != this.GetPrimaryKeyString())
            return new SubmitResult(false, false, 0, [new SpecError("name", $"'{spec.Name}' submitted to search '{this.GetPrimaryKeyString()}'")]);

        var hash = Hash(specText);
        if (state.State.SpecHash is { } existing && existing != hash)
            return new SubmitResult(false, false, 0, [new SpecError("name", $"search '{spec.Name}' exists with another spec; use a new name")]);
        var created = state.State.SpecHash is null;
        if (created)
        {
            state.State.SpecText = specText;
            state.State.SpecHash = hash;
            await state.WriteStateAsync();
            grid = null;
        }
        ExpandInBackground();
        return new SubmitResult(true, created, Grid.Count, []);
    }

    private void ExpandInBackground()
    {
        if (expansion is not null || state.State.SpecText is null || state.State.Cancelled || state.State.Expanded >= Grid.Count)
            return;
        expansion = this.RegisterGrainTimer(ExpandBatch, new GrainTimerCreationOptions(TimeSpan.Zero, TimeSpan.FromMilliseconds(1)) { Interleave = false, KeepAlive = true });
    }

    /// <summary>Creates the next batch of candidates (each stores its spec and enqueues its training job; idempotent), then stores the count.</summary>
    private async Task ExpandBatch(CancellationToken cancellation)
    {
        var batch = Grid.Skip(state.State.Expanded).Take(BatchSize).ToList();
        if (!state.State.Cancelled && batch.Count > 0)
        {
            await Task.WhenAll(batch.Select(c => GrainFactory.GetGrain<ICandidateGrain>(c.Key).Initialize(c)));
            state.State.Expanded += batch.Count;
            await state.WriteStateAsync();
        }
        if (state.State.Cancelled || state.State.Expanded >= Grid.Count)
        {
            expansion?.Dispose();
            expansion = null;
        }
    }

    public Task<SearchStatus> Status()
    {
        var counts = stages.Values.GroupBy(v => v.Stage).ToDictionary(g => g.Key, g => g.Count());
        return Task.FromResult(new SearchStatus(this.GetPrimaryKeyString(), state.State.SpecHash is not null, state.State.Cancelled, counts,
            Grid.Count, state.State.Expanded));
    }

    public Task StageChanged(string candidateKey, CandidateStage stage, int version)
    {
        Track(candidateKey, stage, version);
        return Task.CompletedTask;
    }

    private void Track(string candidateKey, CandidateStage stage, int version)
    {
        if (!stages.TryGetValue(candidateKey, out var known) || known.Version < version)
            stages[candidateKey] = (stage, version);
    }

    public Task<SearchSpec?> Spec() =>
        Task.FromResult(state.State.SpecText is { } text ? SearchSpecReader.Parse(text).Spec : null);

    public async Task Cancel()
    {
        state.State.Cancelled = true;
        await state.WriteStateAsync();
        await Task.WhenAll(Grid.Take(state.State.Expanded).Select(c => GrainFactory.GetGrain<ICandidateGrain>(c.Key).MoveTo(CandidateStage.Cancelled, "search cancelled")));
    }

    /// <summary>The grid in a fixed order: scale, depth, width, quantization recipe.</summary>
    public static IEnumerable<CandidateSpec> Expand(SearchSpec spec)
    {
        var trainingHash = Hash(string.Join('|', spec.Training.Iterations, spec.Training.BatchSize, spec.Training.PatchSize,
            spec.Training.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            string.Join(',', spec.Training.LearningRateMilestones.Select(m => m.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
            spec.Datasets.Train))[..12];
        foreach (var scale in spec.Scales)
            foreach (var depth in spec.Depths)
                foreach (var width in spec.Widths)
                    foreach (var quantization in spec.Quantization)
                        yield return new CandidateSpec(spec.Name, scale, depth, width, quantization, spec.Training, trainingHash, spec.Priority, spec.Datasets, spec.Devices, spec.Protocol, spec.MaxMilliseconds);
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}
