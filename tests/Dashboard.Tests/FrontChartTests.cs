using Bunit;
using Plotly.Blazor.Traces;
using SrMobile.Contracts;
using SrMobile.Dashboard.Charts;
using SrMobile.Dashboard.Components.Shared;
using SrMobile.Query;

namespace SrMobile.Dashboard.Tests;

public class FrontChartTests
{
    // Three on the front (fast-and-worse to slow-and-better), two dominated: one slower and worse than the middle, one a recipe of its own.
    private static readonly IReadOnlyList<ChartPoint> Points =
    [
        Point("s/x3-m1-c8/ptq-minmax-100/h", 28.0, 10, onFront: true),
        Point("s/x3-m2-c16/ptq-minmax-100/h", 29.5, 25, onFront: true),
        Point("s/x3-m4-c28/qat-2000-0.0001/h", 30.2, 60, onFront: true),
        Point("s/x3-m2-c8/ptq-minmax-100/h", 28.5, 30, onFront: false),
        Point("s/x3-m4-c16/ptq-percentile-100/h", 29.0, 70, onFront: false),
    ];

    private static ChartPoint Point(string key, double psnr, double ms, bool onFront) =>
        new(new FrontPoint(key, psnr, ms, 1, onFront), CandidateFacts.FromKey(key), null, "local");

    [Fact]
    public void The_front_is_drawn_fastest_first_as_a_step_line_and_the_dominated_points_apart_and_faded()
    {
        var traces = FrontChart.Traces(Points, ColourBy.Width);
        var front = Assert.IsType<Scatter>(traces.Single(t => ((Scatter)t).Name == FrontChart.FrontTrace));
        var dominated = Assert.IsType<Scatter>(traces.Single(t => ((Scatter)t).Name == FrontChart.DominatedTrace));

        Assert.Equal([10.0, 25.0, 60.0], front.X.Cast<double>());
        Assert.Equal([28.0, 29.5, 30.2], front.Y.Cast<double>());
        Assert.Equal(Plotly.Blazor.Traces.ScatterLib.LineLib.ShapeEnum.Hv, front.Line.Shape);
        Assert.Equal([30.0, 70.0], dominated.X.Cast<double>());
        Assert.True(dominated.Opacity < front.Opacity);
        // Colour is the width here, marker the recipe kind: qat and percentile differ from minmax.
        Assert.Equal([8.0, 16.0, 28.0], front.Marker.ColorArray.Cast<double>());
        var symbols = FrontChart.Symbols(Points);
        Assert.Equal(3, symbols.Values.Distinct().Count());
        Assert.Equal(symbols["ptq-minmax"], front.Marker.SymbolArray[0]);
        Assert.NotEqual(symbols["ptq-minmax"], front.Marker.SymbolArray[2]);
    }

    [Theory]
    [InlineData(9.0, null)]
    [InlineData(10.0, "s/x3-m1-c8/ptq-minmax-100/h")]
    [InlineData(40.0, "s/x3-m2-c16/ptq-minmax-100/h")]
    [InlineData(1000.0, "s/x3-m4-c28/qat-2000-0.0001/h")]
    public void The_best_candidate_under_a_budget_is_the_highest_psnr_that_runs_within_it(double maxMs, string? expected) =>
        Assert.Equal(expected, FrontChart.BestUnder(Points, maxMs)?.Point.CandidateKey);

    [Fact]
    public void The_time_axis_is_logarithmic_only_when_asked()
    {
        Assert.Equal(Plotly.Blazor.LayoutLib.XAxisLib.TypeEnum.Log, FrontChart.Layout("t", logTime: true).XAxis[0].Type);
        Assert.Equal(Plotly.Blazor.LayoutLib.XAxisLib.TypeEnum.Linear, FrontChart.Layout("t", logTime: false).XAxis[0].Type);
    }

    [Fact]
    public void A_key_tells_the_architecture_recipe_and_parameters()
    {
        var facts = CandidateFacts.FromKey("demo/x3-m4-c28/qat-20000-0.0001/abc")!;
        Assert.Equal((3, 4, 28, "qat-20000-0.0001", "qat"), (facts.Scale, facts.Depth, facts.Width, facts.Recipe, facts.RecipeKind));
        Assert.Equal(42_539, facts.Parameters);
        Assert.Null(CandidateFacts.FromKey("not-a-candidate"));
    }

    [Fact]
    public void The_component_lists_the_front_and_answers_the_budget_question()
    {
        using var context = new BunitContext();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        var chart = context.Render<ParetoChart>(p => p.Add(c => c.Points, Points).Add(c => c.MaxMs, 40.0).Add(c => c.Id, "t"));

        var rows = chart.FindAll("#t-front tbody tr");
        Assert.Equal(["s/x3-m1-c8/ptq-minmax-100/h", "s/x3-m2-c16/ptq-minmax-100/h", "s/x3-m4-c28/qat-2000-0.0001/h"], rows.Select(r => r.GetAttribute("data-key")));
        Assert.Contains("x3 m2 C16", chart.Find("#t-best").TextContent);
        Assert.Contains("29.50 dB in 25.00 ms", chart.Find("#t-best").TextContent);

        chart.Render(p => p.Add(c => c.MaxMs, 5.0));
        Assert.Contains("No candidate runs under 5 ms", chart.Find("#t-best").TextContent);
    }

    [Fact]
    public void A_measured_point_hover_shows_float_psnr_p90_and_the_spread_of_its_runs()
    {
        var key = "s/x3-m1-c8/ptq-minmax-100/h";
        var measurement = new DeviceMeasurement("local", 10, 11.5, 40, "onnxruntime", 28, 0.9, "{\"mean_ms\": 10.2, \"std_ms\": 0.51}");
        var candidate = new CandidateView(key, CandidateStage.Done, 1, [], null, new TrainedCandidate(28.4, 28, 0.9, 100, []), [measurement], 5);
        var hover = new ChartPoint(new FrontPoint(key, 28, 10, 1, true), CandidateFacts.FromKey(key), candidate, "local").Hover();
        Assert.Contains("float 28.40 dB · int8 28.00 dB", hover);
        Assert.Contains("p90 11.50 ms · 40 runs · CoV 5.0 %", hover);
        Assert.Null(ChartPoint.CoefficientOfVariation(measurement with { ProtocolJson = "{}" }));
    }

    [Fact]
    public void A_point_hover_names_the_candidate_with_its_numbers()
    {
        var hover = Points[2].Hover();
        Assert.Contains("x3 m4 C28", hover);
        Assert.Contains("qat-2000-0.0001", hover);
        Assert.Contains("42,539 parameters", hover);
        Assert.Contains("int8 30.20 dB", hover);
        Assert.Contains("median 60.00 ms", hover);
        Assert.Contains("on the front", hover);
    }

    [Fact]
    public void A_confirmed_point_hover_shows_its_confirmed_median_and_its_first_measurement()
    {
        var key = "s/x3-m2-c16/ptq-minmax-100/h";
        var confirmed = new ChartPoint(new FrontPoint(key, 29.5, 24.2, 1, true, FirstMs: 26.8), CandidateFacts.FromKey(key), null, "local").Hover();
        Assert.Contains("median 24.20 ms", confirmed);
        Assert.Contains("confirmed interleaved with its neighbours (first measured 26.80 ms)", confirmed);
        Assert.DoesNotContain("confirmed", Points[1].Hover());
    }
}
