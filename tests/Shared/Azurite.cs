using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SrMobile.Tests;

/// <summary>
/// A real Azure Storage emulator for a test: Azurite from the repository's node_modules (<c>npm ci</c> installs it),
/// blob, queue and table services on free ports of 127.0.0.1, its data in a temporary folder. It can be stopped and
/// started again on the same ports and data (a storage outage), and is killed (SIGKILL, by pid) when disposed:
/// Azurite ignores SIGTERM, and a stray one would keep CI waiting.
/// </summary>
internal sealed class Azurite : IAsyncDisposable
{
    public const string AccountName = "devstoreaccount1";

    /// <summary>The well-known development account key every Azurite accepts (published, not a secret).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan GracefulStopTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<string> output = new();
    private Process? process;

    private Azurite()
    {
        Location = Path.Combine(Path.GetTempPath(), "srmobile-tests", $"azurite-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Location);
        (BlobPort, QueuePort, TablePort) = (TestData.FreePort(), TestData.FreePort(), TestData.FreePort());
        // A test host that ends without disposing (a crash, a timeout) still takes its Azurite along.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    public static string Executable => Path.Combine(TestData.RepositoryRoot, "node_modules", ".bin", "azurite");

    public string Location { get; }
    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }
    public bool IsRunning => process is { HasExited: false };

    /// <summary>The development account's connection string with this instance's endpoints.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{AccountName};" +
        $"QueueEndpoint=http://127.0.0.1:{QueuePort}/{AccountName};" +
        $"TableEndpoint=http://127.0.0.1:{TablePort}/{AccountName};";

    /// <summary>Starts a new Azurite and returns once its blob and table ports accept connections.</summary>
    public static async Task<Azurite> StartNew()
    {
        var azurite = new Azurite();
        try
        {
            await azurite.Start();
            return azurite;
        }
        catch
        {
            await azurite.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (again) on the same ports and data folder.</summary>
    public async Task Start()
    {
        if (IsRunning)
            throw new InvalidOperationException("Azurite is already running");
        await NodeModules.Ensure("azurite");
        var start = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Location,
        };
        foreach (var argument in new[]
        {
            "--blobHost", "127.0.0.1", "--blobPort", $"{BlobPort}",
            "--queueHost", "127.0.0.1", "--queuePort", $"{QueuePort}",
            "--tableHost", "127.0.0.1", "--tablePort", $"{TablePort}",
            "--location", Location, "--silent", "--skipApiVersionCheck", "--loose",
        })
            start.ArgumentList.Add(argument);
        output.Clear();
        Process started;
        try
        {
            started = Process.Start(start) ?? throw new InvalidOperationException($"{Executable} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run {Executable} ({e.Message}): is Node.js installed (apt-get install nodejs npm) and `npm ci` run in {TestData.RepositoryRoot}?", e);
        }
        started.OutputDataReceived += (_, line) => { if (line.Data is { } text) output.Enqueue(text); };
        started.ErrorDataReceived += (_, line) => { if (line.Data is { } text) output.Enqueue(text); };
        started.BeginOutputReadLine();
        started.BeginErrorReadLine();
        process = started;

        var deadline = DateTime.UtcNow + StartTimeout;
        while (!(await Accepts(BlobPort) && await Accepts(TablePort)))
        {
            if (started.HasExited)
                throw new InvalidOperationException($"Azurite exited with code {started.ExitCode} at start: {Output}");
            if (DateTime.UtcNow > deadline)
            {
                Kill();
                throw new TimeoutException($"Azurite did not open ports {BlobPort} (blob) and {TablePort} (table) within {StartTimeout.TotalSeconds} s: {Output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// A storage outage: asks Azurite to close (SIGTERM: it saves its data and frees its ports, but its node process
    /// stays), waits for the ports to close, then kills the process. Start brings it back with the same data.
    /// </summary>
    public async Task Stop()
    {
        if (process is not { HasExited: false } running)
            return;
        _ = SendSignal(running.Id, SigTerm);
        var deadline = DateTime.UtcNow + GracefulStopTimeout;
        while (DateTime.UtcNow < deadline && !running.HasExited && (await Accepts(BlobPort) || await Accepts(TablePort)
            || output.Count(line => line.Contains("successfully closed", StringComparison.Ordinal)) < 3))
            await Task.Delay(100);
        Kill();
    }

    public string Output => string.Join(" | ", output.TakeLast(20));

    public async ValueTask DisposeAsync()
    {
        Kill();
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        for (var attempt = 0; attempt < 5 && Directory.Exists(Location); attempt++)
        {
            try
            {
                Directory.Delete(Location, recursive: true);
            }
            catch (IOException)
            {
                await Task.Delay(200); // a file Azurite had open is released a moment after its death
            }
        }
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    /// <summary>SIGKILL to the node process (and anything it started), then waits for it to be gone.</summary>
    private void Kill()
    {
        var running = process;
        process = null;
        if (running is null)
            return;
        try
        {
            if (!running.HasExited)
                running.Kill(entireProcessTree: true);
            if (!running.WaitForExit(TimeSpan.FromSeconds(10)))
                throw new InvalidOperationException($"Azurite (pid {running.Id}) did not die after SIGKILL");
        }
        catch (InvalidOperationException) when (running.HasExited)
        {
            // It died by itself in the meantime.
        }
        finally
        {
            running.Dispose();
        }
    }

    private static async Task<bool> Accepts(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
