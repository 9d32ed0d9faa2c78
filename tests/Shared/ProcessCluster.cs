using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using SrMobile.Grains.Storage;

namespace SrMobile.Tests;

/// <summary>
/// A cluster of real <c>srmobile-silo</c> processes on 127.0.0.1 (the azure storage kind on a test's own Azurite:
/// Table membership, grain state and reminders, Blob artifacts), each silo configured only by environment variables
/// as a deployment would, its output kept in a log file. <see cref="Kill"/> is SIGKILL: no hosted service stops, no
/// lease is handed back, nothing is flushed. A test reads the cluster through an Orleans client of its gateways.
/// </summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    private readonly Azurite azurite;
    private readonly TemporaryFolder folder = TestData.NewTemporaryFolder();
    private readonly string clusterId = $"c{Guid.NewGuid():N}"[..12];
    private readonly ConcurrentDictionary<string, Silo> silos = new();
    private readonly (string Key, string Value)[] common;
    private IHost? client;

    private sealed record Silo(Process Process, IReadOnlyDictionary<string, string> Settings);

    private ProcessCluster(Azurite azurite, (string Key, string Value)[] common)
    {
        this.azurite = azurite;
        this.common = common;
    }

    public static async Task<ProcessCluster> Start(params (string Key, string Value)[] common) => new(await Azurite.StartNew(), common);

    public string Folder => folder.Path;

    public IGrainFactory Grains => client?.Services.GetRequiredService<IClusterClient>() ?? throw new InvalidOperationException("no silo was started");

    /// <summary>The work folder of silo <paramref name="name"/> (each silo its own: they share no disk).</summary>
    public string WorkFolder(string name) => folder.File($"{name}-work");

    /// <summary>The cluster's storage account (what a silo holds; a client-mode agent never sees it).</summary>
    public string StorageConnectionString => azurite.ConnectionString;

    /// <summary>Starts silo <paramref name="name"/> with <paramref name="roles"/> and waits until it is in the cluster.</summary>
    public async Task StartSilo(string name, string roles, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string>
        {
            ["SrMobile:Storage:Kind"] = "azure",
            ["SrMobile:Storage:ConnectionString"] = azurite.ConnectionString,
            ["SrMobile:ClusterId"] = clusterId,
            ["SrMobile:ServiceId"] = clusterId,
            ["SrMobile:SiloPort"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:GatewayPort"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Every silo process is a web host (health, /metrics): each its own port.
            ["SrMobile:Http:Port"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:DataFolder"] = folder.File($"{name}-state"),
            ["SrMobile:DataRoots:0"] = TestData.RepositoryRoot,
            // The silos run in the cluster's folder: the simulated specs' relative dataset ('simulated') is taken from there.
            ["SrMobile:DataRoots:1"] = folder.Path,
            ["SrMobile:Trainer:WorkFolder"] = WorkFolder(name),
            ["SrMobile:Trainer:WorkerId"] = name,
            ["SrMobile:Device:WorkerId"] = $"{name}-device",
            ["SrMobile:Device:ArtifactFolder"] = folder.File($"{name}-device"),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:SrMobile"] = "Information",
        };
        foreach (var (index, role) in roles.Split(',').Index())
            all[$"SrMobile:Roles:{index}"] = role;
        foreach (var (key, value) in common.Concat(settings))
            all[key] = value;
        await Launch(name, all);
    }

    /// <summary>Starts silo <paramref name="name"/> again, as it was configured (same ports, a new process).</summary>
    public Task Restart(string name) => Launch(name, silos[name].Settings);

    /// <summary>SIGKILL: the process ends at once, mid-whatever.</summary>
    public void Kill(string name)
    {
        var process = silos[name].Process;
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>The gateway of silo <paramref name="name"/> on 127.0.0.1 (where a device agent in client mode connects).</summary>
    public string Gateway(string name) => $"127.0.0.1:{silos[name].Settings["SrMobile:GatewayPort"]}";

    /// <summary>The cluster id the silos share (a client of their gateways must say the same).</summary>
    public string ClusterId => clusterId;

    public bool IsRunning(string name) => silos.TryGetValue(name, out var silo) && !silo.Process.HasExited;

    public string Log(string name) => File.ReadAllText(folder.File($"{name}.log"));

    private async Task Launch(string name, IReadOnlyDictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "srmobile-silo.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder.Path,
        };
        foreach (var (key, value) in settings)
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var process = Process.Start(start)!;
        var log = new StreamWriter(folder.File($"{name}.log"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        silos[name] = new Silo(process, settings);
        await WaitUntilJoined(name, int.Parse(settings["SrMobile:SiloPort"], System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task WaitUntilJoined(string name, int siloPort)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            if (silos[name].Process.HasExited)
                throw new InvalidOperationException($"silo {name} exited with {silos[name].Process.ExitCode}:\n{Log(name)}");
            try
            {
                client ??= await Connect();
                var hosts = await Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                if (hosts.Keys.Any(h => h.Endpoint.Port == siloPort))
                    return;
            }
            catch (Exception e) when (e is not InvalidOperationException)
            {
                // Not up yet, or the gateway the client knew is gone: try again.
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"silo {name} did not join within 2 minutes:\n{Log(name)}");
    }

    private async Task<IHost> Connect()
    {
        var settings = new StorageSettings { Kind = StorageSettings.Azure, ConnectionString = azurite.ConnectionString };
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleansClient(orleans =>
        {
            orleans.UseSrMobileAzureClustering(settings);
            orleans.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId));
            // A killed gateway is left for the next one quickly; calls to a coordinator that is away fail fast.
            orleans.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
            orleans.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/> holds, riding out calls that fail while silos come and go.</summary>
    public static async Task<T> WaitFor<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        T? last = default;
        Exception? error = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await read();
                if (done(last))
                    return last;
            }
            catch (Exception e)
            {
                error = e;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{what} did not happen within {within}; last seen: {last}; last error: {error?.Message}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in silos.Keys)
        {
            if (IsRunning(name))
                Kill(name);
        }
        if (client is not null)
        {
            try
            {
                await client.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
            }
            catch (Exception e) when (e is OperationCanceledException or OrleansException)
            {
            }
            client.Dispose();
        }
        await azurite.DisposeAsync();
        folder.Dispose();
    }
}
