using System.Diagnostics;

namespace SrMobile.Cli;

/// <summary>
/// A one-line progress bar with rate and ETA on stderr. On a terminal it redraws in place a few times a second;
/// otherwise (logs, CI) it prints a plain line every <see cref="PlainInterval"/>, so redirected output stays readable.
/// </summary>
public sealed class ProgressBar(CliConsole console, string label, long total)
{
    private static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(15);
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan lastDraw = TimeSpan.MinValue;
    private long startDone = -1;

    public void Report(long done, string detail = "", bool force = false)
    {
        if (startDone < 0)
            startDone = done;
        var now = clock.Elapsed;
        if (!force && lastDraw != TimeSpan.MinValue && now - lastDraw < (console.ErrorIsTerminal ? TerminalInterval : PlainInterval))
            return;
        lastDraw = now;
        var line = Format(done, now, detail);
        if (console.ErrorIsTerminal)
            console.Error.Write($"\r{line}\u001b[K");
        else
            console.Error.WriteLine(line);
    }

    public void Finish(long done, string detail = "")
    {
        Report(done, detail, force: true);
        if (console.ErrorIsTerminal)
            console.Error.WriteLine();
    }

    private string Format(long done, TimeSpan elapsed, string detail)
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
