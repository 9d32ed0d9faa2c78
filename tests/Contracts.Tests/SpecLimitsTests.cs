namespace SrMobile.Contracts.Tests;

public class SpecLimitsTests
{
    private static string Spec(string depths = "[2]", string widths = "[16]", string protocol = "{}", string extra = "") => $$"""
        name: limits
        scales: [3]
        depths: {{depths}}
        widths: {{widths}}
        quantization: [{kind: ptq}]
        datasets: {train: data/train}
        devices: [local]
        protocol: {{protocol}}
        {{extra}}
        """;

    private static string List(int count, int first = 1) => "[" + string.Join(", ", Enumerable.Range(first, count)) + "]";

    [Fact]
    public void A_spec_within_every_bound_is_read()
    {
        var (spec, errors) = SearchSpecReader.Parse(Spec(List(64), List(256),
            "{input: 4096x4096, threads: 256, warmup: 1000, min_runs: 100000, min_seconds: 0, max_seconds: 3600}", "priority: -1000"));
        Assert.Empty(errors);
        Assert.Equal(64 * 256, spec!.CandidateCount);
    }

    [Fact]
    public void Every_field_out_of_its_range_is_reported_at_once_with_its_bound()
    {
        var (spec, errors) = SearchSpecReader.Parse(Spec("[65]", "[257]",
            "{input: 4097x640, threads: 257, warmup: 1001, min_runs: 100001, max_seconds: 3601}",
            "priority: 1001\ntraining: {iterations: 100000001, batch_size: 1025, patch_size: 1025}"));
        Assert.Null(spec);
        var messages = errors.Select(e => e.ToString()).ToList();
        foreach (var expected in new[]
        {
            "depths[0]: 65 must be at most 64",
            "widths[0]: 257 must be at most 256",
            "protocol.input: 4097x640 is larger than the limit of 4096x4096",
            "protocol.threads: must be at most 256, not 257",
            "protocol.warmup: must be at most 1000, not 1001",
            "protocol.min_runs: must be at most 100000, not 100001",
            "protocol.max_seconds: must be at most 3600, not 3601",
            "priority: must be at most 1000, not 1001",
            "training.iterations: must be at most 100000000, not 100000001",
            "training.batch_size: must be at most 1024, not 1025",
            "training.patch_size: must be at most 1024, not 1025",
        })
        {
            Assert.Contains(expected, messages);
        }
        Assert.Contains("priority: must be at least -1000, not -1001", SearchSpecReader.Parse(Spec(extra: "priority: -1001")).Errors.Select(e => e.ToString()));
        Assert.Contains("protocol.warmup: must be at least 0, not -1", SearchSpecReader.Parse(Spec(protocol: "{warmup: -1}")).Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void A_grid_over_the_candidate_limit_is_refused_naming_its_size_and_the_limit()
    {
        var (spec, errors) = SearchSpecReader.Parse(Spec(List(50), List(250)), new SpecLimits(MaxCandidates: 12_499));
        Assert.Null(spec);
        var error = Assert.Single(errors);
        Assert.Equal("(grid)", error.Field);
        Assert.Contains("1 × 50 × 250 × 1 = 12,500 candidates", error.Message);
        Assert.Contains("the limit is 12,499 (SrMobile:Limits:MaxCandidates)", error.Message);

        Assert.Empty(SearchSpecReader.Parse(Spec(List(50), List(250)), new SpecLimits(MaxCandidates: 12_500)).Errors);
    }

    [Fact]
    public void The_default_candidate_limit_is_100000()
    {
        // 3 scales × 64 depths × 256 widths × 3 recipes = 147,456: every list within its bound, the product not.
        var text = Spec(List(64), List(256)).Replace("scales: [3]", "scales: [2, 3, 4]")
            .Replace("quantization: [{kind: ptq}]", "quantization: [{kind: ptq}, {kind: ptq, method: mse}, {kind: qat}]");
        var error = Assert.Single(SearchSpecReader.Parse(text).Errors);
        Assert.Contains("= 147,456 candidates; the limit is 100,000", error.Message);
    }

    [Fact]
    public void Grid_lists_whose_product_overflows_a_long_are_counted_without_wrapping()
    {
        // Out-of-range items are errors of their own and not counted, so repeat in-range values: each list is then
        // refused for a duplicate, and the product (60,000^4 ≈ 1.3e19, over long's 9.2e18) is still shown unwrapped.
        var big = "[" + string.Join(", ", Enumerable.Repeat(3, 60_000)) + "]";
        var quantization = "[" + string.Join(", ", Enumerable.Repeat("{kind: ptq}", 60_000)) + "]";
        var text = $"""
            name: huge
            scales: {big}
            depths: {big}
            widths: {big}
            quantization: {quantization}
            datasets: {"{"}train: t{"}"}
            devices: [local]
            """;
        var (spec, errors) = SearchSpecReader.Parse(text, SpecLimits.Default with { MaxSpecCharacters = int.MaxValue });
        Assert.Null(spec);
        Assert.Contains(errors, e => e.Field == "(grid)" && e.Message.Contains("= 12,960,000,000,000,000,000 candidates", StringComparison.Ordinal));
    }

    [Fact]
    public void A_spec_text_over_the_length_limit_is_refused_before_it_is_parsed()
    {
        var text = Spec() + "\n# " + new string('x', 70_000);
        var error = Assert.Single(SearchSpecReader.Parse(text).Errors);
        Assert.Equal("(spec)", error.Field);
        Assert.Contains($"is {text.Length:N0} characters long; the limit is 65,536", error.Message);
        Assert.Empty(SearchSpecReader.Parse(text, new SpecLimits(MaxSpecCharacters: text.Length)).Errors);
    }
}
