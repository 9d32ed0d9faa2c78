using System.Globalization;
using Plotly.Blazor;
using Plotly.Blazor.LayoutLib;
using Plotly.Blazor.Traces;
using Plotly.Blazor.Traces.ScatterLib;
using Plotly.Blazor.Traces.ScatterLib.MarkerLib;
using SrMobile.Contracts;
using SrMobile.Query;

namespace SrMobile.Dashboard.Charts;

/// <summary>What colours the points: the depth m or the width C.</summary>
public enum ColourBy
{
    Depth,
    Width,
}

/// <summary>A point of the chart with what its hover shows: the key's facts, and the candidate's record where it was read (points on the front).</summary>
public sealed record ChartPoint(FrontPoint Point, CandidateFacts? Facts, CandidateView? Candidate, string Device)
{
    public DeviceMeasurement? Measurement => Candidate?.Measurements.FirstOrDefault(m => m.Device == Device);

    /// <summary>The hover text: architecture, recipe, parameters, float and int8 PSNR, median and p90 ms, the MAI-style score.</summary>
    public string Hover()
    {
        var lines = new List<string> { Facts is { } f ? $"<b>{f.Architecture}</b> {f.Recipe}" : $"<b>{Point.CandidateKey}</b>" };
        if (Facts is { } facts)
            lines.Add(Invariant($"{facts.Parameters:N0} parameters"));
        lines.Add(Candidate?.Trained is { } trained
            ? Invariant($"float {trained.FloatPsnr:F2} dB · int8 {Point.Psnr:F2} dB")
            : Invariant($"int8 {Point.Psnr:F2} dB"));
        lines.Add(Measurement is { } m
            ? Invariant($"median {Point.MedianMs:F2} ms · p90 {m.P90Ms:F2} ms · {m.Runs} runs{(CoefficientOfVariation(m) is { } cov ? $" · CoV {cov:P1}" : "")}{(m.Canary is { Flagged: true } canary ? $" · canary drift {canary.Drift:P1}" : "")}")
            : Invariant($"median {Point.MedianMs:F2} ms"));
        if (Point.FirstMs is { } first)
            lines.Add(Invariant($"confirmed interleaved with its neighbours (first measured {first:F2} ms)"));
        lines.Add(Invariant($"score {Point.MaiScore:G3}{(Point.OnFront ? " · on the front" : "")}"));
        return string.Join("<br>", lines);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The spread of a measurement's runs, std / mean, from the protocol's record of it; null when it holds neither.</summary>
    public static double? CoefficientOfVariation(DeviceMeasurement measurement)
    {
        if (double.IsFinite(measurement.Cov))
            return measurement.Cov;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(measurement.ProtocolJson);
            return json.RootElement.TryGetProperty("std_ms", out var std) && json.RootElement.TryGetProperty("mean_ms", out var mean) && mean.GetDouble() > 0
                ? std.GetDouble() / mean.GetDouble()
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

/// <summary>
/// The Pareto chart's logic, apart from drawing: int8 PSNR (up) against median ms (left is faster), the front as a
/// step line (a point holds its PSNR until the next faster-and-worse one), dominated points faded, colour by depth or
/// width, marker by recipe, log-scale time axis, and the best candidate under a time budget.
/// </summary>
public static class FrontChart
{
    public const string FrontTrace = "front";
    public const string DominatedTrace = "dominated";

    /// <summary>The front in drawing order: fastest first.</summary>
    public static IReadOnlyList<ChartPoint> FrontLine(IEnumerable<ChartPoint> points) =>
        [.. points.Where(p => p.Point.OnFront).OrderBy(p => p.Point.MedianMs).ThenByDescending(p => p.Point.Psnr)];

    public static IReadOnlyList<ChartPoint> Dominated(IEnumerable<ChartPoint> points) =>
        [.. points.Where(p => !p.Point.OnFront).OrderBy(p => p.Point.MedianMs)];

    /// <summary>The highest-PSNR point that runs in at most <paramref name="maxMs"/>; null when none does. On a front this is always a front point.</summary>
    public static ChartPoint? BestUnder(IEnumerable<ChartPoint> points, double maxMs) =>
        points.Where(p => p.Point.MedianMs <= maxMs).OrderByDescending(p => p.Point.Psnr).ThenBy(p => p.Point.MedianMs).FirstOrDefault();

    /// <summary>Plotly marker symbols by recipe kind, in order of first appearance.</summary>
    public static IReadOnlyDictionary<string, SymbolEnum> Symbols(IEnumerable<ChartPoint> points)
    {
        SymbolEnum[] symbols = [SymbolEnum.Circle, SymbolEnum.Square, SymbolEnum.Diamond, SymbolEnum.TriangleUp, SymbolEnum.Cross, SymbolEnum.X, SymbolEnum.Star, SymbolEnum.Hexagon];
        return points.Select(p => p.Facts?.RecipeKind ?? "?").Distinct(StringComparer.Ordinal)
            .Select((kind, i) => (kind, symbols[i % symbols.Length])).ToDictionary(p => p.kind, p => p.Item2, StringComparer.Ordinal);
    }

    public static double Colour(ChartPoint point, ColourBy by) => by == ColourBy.Depth ? point.Facts?.Depth ?? 0 : point.Facts?.Width ?? 0;

    public static IList<ITrace> Traces(IReadOnlyList<ChartPoint> points, ColourBy colourBy)
    {
        var symbols = Symbols(points);
        Scatter Trace(string name, IReadOnlyList<ChartPoint> of, bool front) => new()
        {
            Name = name,
            Mode = front ? ModeFlag.Lines | ModeFlag.Markers : ModeFlag.Markers,
            X = [.. of.Select(p => (object)p.Point.MedianMs)],
            Y = [.. of.Select(p => (object)p.Point.Psnr)],
            CustomData = [.. of.Select(p => (object)p.Point.CandidateKey)],
            HoverTextArray = [.. of.Select(p => p.Hover())],
            HoverInfo = HoverInfoFlag.Text,
            Line = front ? new Plotly.Blazor.Traces.ScatterLib.Line { Shape = Plotly.Blazor.Traces.ScatterLib.LineLib.ShapeEnum.Hv, Width = 2, Color = "#444" } : null,
            Opacity = front ? 1 : 0.35m,
            Marker = new Marker
            {
                ColorArray = [.. of.Select(p => (object)Colour(p, colourBy))],
                ColorScale = "Viridis",
                CMin = (decimal)points.Select(p => Colour(p, colourBy)).DefaultIfEmpty(0).Min(),
                CMax = (decimal)points.Select(p => Colour(p, colourBy)).DefaultIfEmpty(1).Max(),
                ShowScale = front,
                ColorBar = front ? new Plotly.Blazor.Traces.ScatterLib.MarkerLib.ColorBar { Title = new Plotly.Blazor.Traces.ScatterLib.MarkerLib.ColorBarLib.Title { Text = colourBy == ColourBy.Depth ? "depth m" : "width C" } } : null,
                SymbolArray = [.. of.Select(p => (SymbolEnum?)symbols[p.Facts?.RecipeKind ?? "?"])],
                Size = front ? 11 : 8,
                Line = new Plotly.Blazor.Traces.ScatterLib.MarkerLib.Line { Width = front ? 1 : 0, Color = "#222" },
            },
        };
        return [Trace(DominatedTrace, Dominated(points), front: false), Trace(FrontTrace, FrontLine(points), front: true)];
    }

    public static Layout Layout(string title, bool logTime) => new()
    {
        Title = new Title { Text = title },
        XAxis = [new XAxis { Title = new Plotly.Blazor.LayoutLib.XAxisLib.Title { Text = "median ms on the device" }, Type = logTime ? Plotly.Blazor.LayoutLib.XAxisLib.TypeEnum.Log : Plotly.Blazor.LayoutLib.XAxisLib.TypeEnum.Linear }],
        YAxis = [new YAxis { Title = new Plotly.Blazor.LayoutLib.YAxisLib.Title { Text = "int8 PSNR (dB)" } }],
        HoverMode = HoverModeEnum.Closest,
        ShowLegend = true,
        Legend = [new Legend { Orientation = Plotly.Blazor.LayoutLib.LegendLib.OrientationEnum.H, Y = 1.08m, X = 0 }],
        Height = 480,
        Margin = new Margin { T = 50, B = 50, L = 60, R = 20 },
    };
}
