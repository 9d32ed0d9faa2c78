using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

public class SearchGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static string Spec(string name, string widths = "[8, 16]") => $$"""
        name: {{name}}
        scales: [3]
        depths: [1, 2]
        widths: {{widths}}
        quantization: [{kind: ptq}, {kind: qat}]
        datasets: {train: data/train}
        devices: [local]
        """;

    private static string NewName() => $"s-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Submitting_expands_the_grid_and_enqueues_one_training_job_per_candidate()
    {
        var name = NewName();
        var result = await fixture.Grains.GetGrain<ISearchGrain>(name).Submit(Spec(name));
        Assert.True(result.Accepted);
        Assert.True(result.Created);
        Assert.Equal(8, result.Candidates);
        var status = await SearchExpansion.Expanded(fixture.Grains.GetGrain<ISearchGrain>(name));
        Assert.Equal(8, status.Stages[CandidateStage.Queued]);
        var queue = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        var (spec, _) = SearchSpecReader.Parse(Spec(name));
        foreach (var candidate in SearchGrid.Expand(spec!))
            Assert.Equal(JobStatus.Queued, (await queue.Get(candidate.TrainingJobId))!.Status);
    }

    [Fact]
    public async Task An_accepted_submit_lists_the_search_once_and_its_candidates_page_in_grid_order()
    {
        var name = NewName();
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        var index = fixture.Grains.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key);
        Assert.DoesNotContain(await index.List(), e => e.Name == name);
        await search.Submit(Spec(name));
        await search.Submit(Spec(name));
        Assert.Single(await index.List(), e => e.Name == name);
        await search.Submit(Spec(NewName()).Replace("scales", "scale", StringComparison.Ordinal));
        Assert.Single(await index.List(), e => e.Name == name);

        await SearchExpansion.Expanded(search);
        var grid = SearchGrid.Expand(SearchSpecReader.Parse(Spec(name)).Spec!).Select(c => c.Key).ToList();
        var page = await search.Candidates(null, 2, 3);
        Assert.Equal(8, page.Total);
        Assert.Equal(grid.Skip(2).Take(3), page.Items.Select(c => c.Key));
        Assert.All(page.Items, c => Assert.Equal(CandidateStage.Queued, c.Stage));
        await fixture.Grains.GetGrain<ICandidateGrain>(grid[5]).Cancel("test");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        CandidatePage cancelled;
        while ((cancelled = await search.Candidates(CandidateStage.Cancelled, 0, 10)).Total == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Equal([grid[5]], cancelled.Items.Select(c => c.Key));
        Assert.Equal(7, (await search.Candidates(CandidateStage.Queued, 0, 100)).Total);
    }

    [Fact]
    public async Task Submitting_the_same_spec_twice_is_idempotent()
    {
        var name = NewName();
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        await search.Submit(Spec(name));
        await SearchExpansion.Expanded(search);
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary();
        var again = await search.Submit(Spec(name));
        Assert.True(again.Accepted);
        Assert.False(again.Created);
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary());
        Assert.Equal(8, (await SearchExpansion.Expanded(search)).Stages.Values.Sum());

        var other = await search.Submit(Spec(name, widths: "[32]"));
        Assert.False(other.Accepted);
        Assert.Contains("exists with another spec", other.Errors.Single().Message);
    }

    [Fact]
    public async Task An_invalid_spec_returns_all_its_errors_and_creates_nothing()
    {
        var name = NewName();
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary();
        var result = await search.Submit(Spec(name).Replace("scales: [3]", "scales: [5]").Replace("devices: [local]", "devices: []"));
        Assert.False(result.Accepted);
        Assert.Equal(["scales[0]", "devices"], result.Errors.Select(e => e.Field));
        var status = await search.Status();
        Assert.False(status.Submitted);
        Assert.Empty(status.Stages);
        Assert.Equal(0, status.Candidates);
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary());
    }

    [Fact]
    public async Task A_grid_over_the_candidate_limit_is_refused_before_anything_is_stored()
    {
        var name = NewName();
        // 3 × 64 × 256 × 3 = 147,456 candidates: every list within its bounds, the grid over the default 100,000.
        var text = Spec(name, widths: "[" + string.Join(", ", Enumerable.Range(1, 256)) + "]")
            .Replace("scales: [3]", "scales: [2, 3, 4]")
            .Replace("depths: [1, 2]", "depths: [" + string.Join(", ", Enumerable.Range(1, 64)) + "]")
            .Replace("quantization: [{kind: ptq}, {kind: qat}]", "quantization: [{kind: ptq}, {kind: ptq, method: mse}, {kind: qat}]");
        var error = await RefusedStoringNothing(name, text);
        Assert.Equal("(grid)", error.Field);
        Assert.Contains("147,456 candidates; the limit is 100,000 (SrMobile:Limits:MaxCandidates)", error.Message);
    }

    [Fact]
    public async Task A_spec_text_over_the_length_limit_is_refused_before_anything_is_stored()
    {
        var name = NewName();
        var error = await RefusedStoringNothing(name, Spec(name) + "\n# " + new string('x', SpecLimits.DefaultMaxSpecCharacters));
        Assert.Equal("(spec)", error.Field);
        Assert.Contains("the limit is 65,536 (SrMobile:Limits:MaxSpecCharacters)", error.Message);
    }

    [Theory]
    [InlineData("datasets: {train: data/train}", "datasets: {train: ../../../../../../../../etc}", "datasets.train")]
    [InlineData("datasets: {train: data/train}", "datasets: {train: data/train, validation: /tmp}", "datasets.validation")]
    [InlineData("datasets: {train: data/train}", "datasets: {train: data/train, calibration: data/../../calib}", "datasets.calibration")]
    public async Task A_dataset_outside_every_data_root_is_refused_naming_the_field_and_the_roots(string from, string to, string field)
    {
        var name = NewName();
        var error = await RefusedStoringNothing(name, Spec(name).Replace(from, to));
        Assert.Equal(field, error.Field);
        // The fixture configures no roots: the silo's working folder is the one root.
        Assert.Contains($"outside every data root ({Path.TrimEndingDirectorySeparator(Environment.CurrentDirectory)})", error.Message);
    }

    /// <summary>Submits <paramref name="text"/>, expects one error and checks that no spec, candidate or job was stored.</summary>
    private async Task<SpecError> RefusedStoringNothing(string name, string text)
    {
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary();
        var result = await search.Submit(text);
        Assert.False(result.Accepted);
        Assert.False(result.Created);
        Assert.Equal(0, result.Candidates);
        var status = await search.Status();
        Assert.False(status.Submitted);
        Assert.Empty(status.Stages);
        Assert.Equal(0, status.Candidates);
        Assert.Null(await search.Spec());
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary());
        return Assert.Single(result.Errors);
    }
}
