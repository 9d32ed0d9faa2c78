using System.Diagnostics;

namespace SrMobile.Cli;

/// <summary>
/// Progress bars with rate and ETA on stderr, one row per label (a search has one per stage). On a terminal they
/// redraw in place a few times a second; otherwise (logs, CI) they print plain lines every
/// <see cref="PlainInterval"/>, so redirected output stays readable.
/// </summary>
public sealed class ProgressBar
{
    private static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(15);
    private readonly CliConsole console;
    private readonly (string Label, long Total)[] rows;
    private readonly long[] startDone;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan lastDraw = TimeSpan.MinValue;
    private bool drawnOnTerminal;

    public ProgressBar(CliConsole console, string label, long total)
        : this(console, [(label, total)])
    {
    }

    public ProgressBar(CliConsole console, IReadOnlyList<(string Label, long Total)> rows)
    {
        this.console = console;
        this.rows = [.. rows];
        startDone = [.. rows.Select(_ => -1L)];
    }

    public void Report(long done, string detail = "", bool force = false) => Report([done], [detail], force);

    /// <summary>One value (and detail) per row.</summary>
    public void Report(IReadOnlyList<long> done, IReadOnlyList<string> details, bool force = false)
    {
        for (var i = 0; i < rows.Length; i++)
        {
            if (startDone[i] < 0)
                startDone[i] = done[i];
        }
        var now = clock.Elapsed;
        if (!force && lastDraw != TimeSpan.MinValue && now - lastDraw < (console.ErrorIsTerminal ? TerminalInterval : PlainInterval))
            return;
        lastDraw = now;
        var lines = rows.Select((row, i) => Format(row.Label, row.Total, startDone[i], done[i], now, details[i])).ToList();
        if (!console.ErrorIsTerminal)
        {
            foreach (var line in lines)
                console.Error.WriteLine(line);
            return;
        }
        // Back to the first row of the previous drawing, then every row over its old self.
        var up = drawnOnTerminal && rows.Length > 1 ? $"\u001b[{rows.Length - 1}A" : "";
        console.Error.Write(up + "\r" + string.Join("\u001b[K\n", lines) + "\u001b[K");
        drawnOnTerminal = true;
    }

    public void Finish(long done, string detail = "") => Finish([done], [detail]);

    public void Finish(IReadOnlyList<long> done, IReadOnlyList<string> details)
    {
        Report(done, details, force: true);
        if (console.ErrorIsTerminal)
            console.Error.WriteLine();
    }

    private static string Format(string label, long total, long startDone, long done, TimeSpan elapsed, string detail)
    {
        const int Width = 24;
        var fraction = total > 0 ? Math.Clamp((double)done / total, 0, 1) : 0;
        var filled = (int)Math.Round(fraction * Width);
        var rate = (done - startDone) / Math.Max(elapsed.TotalSeconds, 1e-9);
        var eta = rate > 0 && done < total ? TimeSpan.FromSeconds((total - done) / rate) : TimeSpan.Zero;
        return $"{label} [{new string('#', filled)}{new string('.', Width - filled)}] {fraction,4:P0} {done}/{total} " +
               $"{rate:F1}/s ETA {Clock(eta)} elapsed {Clock(elapsed)}{(detail.Length > 0 ? " " + detail : "")}";
    }

    private static string Clock(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}:{span:mm\\:ss}" : $"{span:mm\\:ss}";
}
