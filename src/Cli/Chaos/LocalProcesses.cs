using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SrMobile.Engine;

namespace SrMobile.Cli.Chaos;

/// <summary>
/// Silo processes (<c>srmobile silo</c>) on this machine, each configured only by environment variables (as a deployment
/// configures one), its output appended to <c>NAME.log</c> in <see cref="Folder"/>. <see cref="Kill"/> is SIGKILL:
/// nothing stops gracefully, no lease is handed back, nothing is flushed; <see cref="Start"/> again runs the same
/// silo (same ports, folders and id) as a new process, as a machine that reboots would.
/// </summary>
internal sealed class SiloProcesses(string folder) : IDisposable
{
    private readonly ConcurrentDictionary<string, (Process Process, IReadOnlyDictionary<string, string> Settings)> silos = new();

    public string Folder => folder;

    public IEnumerable<string> Names => silos.Keys;

    public string LogPath(string name) => Path.Combine(folder, $"{name}.log");

    public bool IsRunning(string name) => silos.TryGetValue(name, out var silo) && !silo.Process.HasExited;

    /// <summary>Starts silo <paramref name="name"/> with <paramref name="settings"/>, or, given none, as it was last started.</summary>
    public void Start(string name, IReadOnlyDictionary<string, string>? settings = null)
    {
        settings ??= silos[name].Settings;
        // This CLI itself, as `srmobile silo`: the same host as srmobile-silo.
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "srmobile.dll"), "silo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        foreach (var (key, value) in settings)
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"silo {name} did not start");
        var log = new StreamWriter(LogPath(name), append: true) { AutoFlush = true };
        // The log closes once both streams have ended (a null line each): lines may still arrive after the process exits.
        var open = 2;
        void Write(DataReceivedEventArgs e)
        {
            lock (log)
            {
                if (e.Data is not null)
                    log.WriteLine(e.Data);
                else if (--open == 0)
                    log.Dispose();
            }
        }
        process.OutputDataReceived += (_, e) => Write(e);
        process.ErrorDataReceived += (_, e) => Write(e);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        silos[name] = (process, settings);
    }

    /// <summary>SIGKILL, and waits until the process is gone.</summary>
    public void Kill(string name)
    {
        var process = silos[name].Process;
        if (process.HasExited)
            return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>The exit of a silo that was not killed: its log's last lines, for the error that reports it.</summary>
    public string Tail(string name, int lines = 30) =>
        File.Exists(LogPath(name)) ? string.Join(Environment.NewLine, File.ReadLines(LogPath(name)).TakeLast(lines)) : "(no log)";

    public void Dispose()
    {
        foreach (var name in silos.Keys)
            Kill(name);
    }
}

/// <summary>
/// Azurite, the Azure Storage emulator, for a benchmark that needs storage shared by separate processes: blob, queue
/// and table services on free ports of 127.0.0.1, its data in a folder of the caller's. Found on PATH or as
/// <c>node_modules/.bin/azurite</c> in the working folder, the CLI's folder or one above them (a clone where
/// <c>npm ci</c> ran). Killed on dispose: Azurite ignores SIGTERM.
/// </summary>
internal sealed class AzuriteProcess : IDisposable
{
    private const string Account = "devstoreaccount1";

    /// <summary>The development account's published key, which every Azurite accepts (not a secret).</summary>
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process process;
    private readonly int blobPort = FreePort(), queuePort = FreePort(), tablePort = FreePort();

    private AzuriteProcess(string executable, string location)
    {
        Directory.CreateDirectory(location);
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = location,
        };
        foreach (var argument in new[]
        {
            "--blobHost", "127.0.0.1", "--blobPort", Port(blobPort), "--queueHost", "127.0.0.1", "--queuePort", Port(queuePort),
            "--tableHost", "127.0.0.1", "--tablePort", Port(tablePort), "--location", location, "--silent", "--skipApiVersionCheck", "--loose",
        })
            start.ArgumentList.Add(argument);
        process = Process.Start(start) ?? throw new InvalidOperationException($"{executable} did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};" +
        $"BlobEndpoint=http://127.0.0.1:{blobPort}/{Account};QueueEndpoint=http://127.0.0.1:{queuePort}/{Account};" +
        $"TableEndpoint=http://127.0.0.1:{tablePort}/{Account};";

    public static async Task<AzuriteProcess> Start(string location, CancellationToken cancellation)
    {
        var executable = Find() ?? throw new BadInputException(
            "this benchmark needs Azure Storage shared by its processes: give --connection-string, or install Azurite (`npm ci` in the repository installs the locked one, or `npm install -g azurite`)");
        var azurite = new AzuriteProcess(executable, location);
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (!(await Accepts(azurite.blobPort) && await Accepts(azurite.tablePort)))
        {
            if (azurite.process.HasExited || DateTime.UtcNow > deadline)
            {
                azurite.Dispose();
                throw new InvalidOperationException($"Azurite ({executable}) did not open ports {azurite.blobPort} and {azurite.tablePort} within a minute");
            }
            await Task.Delay(100, cancellation);
        }
        return azurite;
    }

    private static string? Find()
    {
        IEnumerable<string> Upwards(string start)
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
                yield return Path.Combine(folder.FullName, "node_modules", ".bin", "azurite");
        }
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "azurite"));
        return Upwards(Environment.CurrentDirectory).Concat(Upwards(AppContext.BaseDirectory)).Concat(onPath).FirstOrDefault(File.Exists);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task<bool> Accepts(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }
}
