using System.Globalization;
using Plotly.Blazor;
using Plotly.Blazor.LayoutLib;
using Plotly.Blazor.Traces;
using Plotly.Blazor.Traces.ScatterLib;

namespace SrMobile.Dashboard.Charts;

/// <summary>
/// A candidate's float training as its record holds it (the <c>training-record</c> artifact, CSV with a header:
/// <c>iteration,…,loss,…,psnr_y,…</c>): the loss per logged window and the validation PSNR (Y) per validation.
/// Columns are found by name, so a record with more columns still reads.
/// </summary>
public sealed record TrainingCurves(IReadOnlyList<(long Iteration, double Loss)> Loss, IReadOnlyList<(long Iteration, double Psnr)> ValidationPsnr)
{
    public static TrainingCurves Parse(IEnumerable<string> lines, string source)
    {
        using var rows = lines.GetEnumerator();
        if (!rows.MoveNext())
            throw new InvalidDataException($"{source}: the training record is empty");
        var header = rows.Current.Split(',');
        int Column(string name) => Array.IndexOf(header, name) is var at and >= 0 ? at
            : throw new InvalidDataException($"{source}: the training record has no '{name}' column (header: {rows.Current})");
        var (iteration, loss, psnr) = (Column("iteration"), Column("loss"), Column("psnr_y"));
        var losses = new List<(long, double)>();
        var psnrs = new List<(long, double)>();
        while (rows.MoveNext())
        {
            var cells = rows.Current.Split(',');
            if (cells.Length != header.Length || !long.TryParse(cells[iteration], CultureInfo.InvariantCulture, out var step))
                continue;
            if (double.TryParse(cells[loss], CultureInfo.InvariantCulture, out var l))
                losses.Add((step, l));
            if (double.TryParse(cells[psnr], CultureInfo.InvariantCulture, out var p))
                psnrs.Add((step, p));
        }
        return new TrainingCurves(losses, psnrs);
    }

    public IList<ITrace> Traces() =>
    [
        new Scatter { Name = "loss", Mode = ModeFlag.Lines, X = [.. Loss.Select(p => (object)p.Iteration)], Y = [.. Loss.Select(p => (object)p.Loss)] },
        new Scatter
        {
            Name = "validation PSNR (Y)", Mode = ModeFlag.Lines | ModeFlag.Markers, YAxis = "y2",
            X = [.. ValidationPsnr.Select(p => (object)p.Iteration)], Y = [.. ValidationPsnr.Select(p => (object)p.Psnr)],
        },
    ];

    public static Plotly.Blazor.Layout Layout() => new()
    {
        Title = new Title { Text = "float training" },
        XAxis = [new XAxis { Title = new Plotly.Blazor.LayoutLib.XAxisLib.Title { Text = "iteration" } }],
        YAxis =
        [
            new YAxis { Title = new Plotly.Blazor.LayoutLib.YAxisLib.Title { Text = "loss" } },
            new YAxis { Title = new Plotly.Blazor.LayoutLib.YAxisLib.Title { Text = "PSNR (dB)" }, Overlaying = "y", Side = Plotly.Blazor.LayoutLib.YAxisLib.SideEnum.Right },
        ],
        Height = 320,
        Margin = new Margin { T = 40, B = 40, L = 60, R = 60 },
    };
}
