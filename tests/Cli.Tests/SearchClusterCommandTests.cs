using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SrMobile.Hosting;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class SearchClusterCommandTests
{
    /// <summary>A real <c>srmobile-silo</c> host (its own configuration path), state in <paramref name="work"/>, gateway on <paramref name="gateway"/>.</summary>
    internal static async Task<IHost> StartSilo(TemporaryFolder work, int gateway, params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SrMobile:DataFolder"] = work.File("state"),
            ["SrMobile:SiloPort"] = TestData.FreePort().ToString(),
            ["SrMobile:GatewayPort"] = gateway.ToString(),
        });
        builder.Configuration.AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)));
        builder.AddSrMobileSilo();
        var silo = builder.Build();
        await silo.StartAsync();
        return silo;
    }

    [Fact]
    public async Task Submit_status_pareto_and_cancel_talk_to_a_running_silo()
    {
        using var work = TestData.NewTemporaryFolder();
        var gateway = TestData.FreePort();
        using var silo = await StartSilo(work, gateway,
            ("SrMobile:Roles:0", "coordinator"), // no trainer: the candidates stay queued until cancelled
            ("SrMobile:Roles:1", "device"),
            ("SrMobile:Simulate", "true"),
            ("SrMobile:Device:Key", "tv"),
            ("SrMobile:Device:WorkerId", "tv-in-the-lab"));
        try
        {
            var cluster = $"127.0.0.1:{gateway}";
            File.WriteAllText(work.File("spec.json"), """
                {"name": "remote", "scales": [2, 3], "depths": [1], "widths": [4], "quantization": [{"kind": "ptq"}],
                 "datasets": {"train": "t"}, "devices": ["local", "tv"]}
                """);
            var submit = await CliRunner.Run("search", "submit", work.File("spec.json"), "--cluster", cluster, "--json");
            Assert.True(submit.ExitCode == 0, submit.Error);
            Assert.Equal(2, JsonDocument.Parse(submit.Out).RootElement.GetProperty("candidates").GetInt32());
            var again = await CliRunner.Run("search", "submit", work.File("spec.json"), "--cluster", cluster);
            Assert.Contains("already submitted", again.Out);

            // The grid is created in the background: wait until both candidates are.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            CliRun status;
            while ((status = await CliRunner.Run("search", "status", "remote", "--cluster", cluster, "--json")).ExitCode == 0
                && JsonDocument.Parse(status.Out).RootElement.GetProperty("created").GetInt32() < 2 && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.Equal(2, JsonDocument.Parse(status.Out).RootElement.GetProperty("stages").GetProperty("queued").GetInt32());

            // The device worker registers when its silo starts.
            CliRun devices;
            while ((devices = await CliRunner.Run("device", "list", "--cluster", cluster, "--json")).ExitCode == 0
                && JsonDocument.Parse(devices.Out).RootElement.GetArrayLength() == 0 && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.True(devices.ExitCode == 0, devices.Error);
            var device = JsonDocument.Parse(devices.Out).RootElement.EnumerateArray().Single();
            Assert.Equal("tv", device.GetProperty("device").GetString());
            Assert.Equal("tv-in-the-lab", device.GetProperty("worker").GetString());
            Assert.True(device.GetProperty("online").GetBoolean());
            Assert.Equal("online", device.GetProperty("health").GetString());
            // A silo's own device worker joined with a token it issued itself.
            Assert.False(string.IsNullOrEmpty(device.GetProperty("token").GetString()));
            Assert.Equal("X64", device.GetProperty("facts").GetProperty("architecture").GetString());
            var released = await CliRunner.Run("device", "release", "tv-in-the-lab", "--cluster", cluster);
            Assert.True(released.ExitCode == 0, released.Error);
            var nobody = await CliRunner.Run("device", "release", "no-such-board", "--cluster", cluster);
            Assert.Equal(SrMobileCommand.BadInput, nobody.ExitCode);
            Assert.Contains("no device worker named 'no-such-board'", nobody.Error);

            var pareto = await CliRunner.Run("search", "pareto", "remote", "--cluster", cluster, "--csv", work.File("front.csv"));
            Assert.True(pareto.ExitCode == 0, pareto.Error);
            Assert.Contains("Pareto front x2 on tv: 0 of 0 candidates", pareto.Out);
            Assert.Equal(["scale,device,candidate,psnr,median_ms,mai_score"], File.ReadAllLines(work.File("front.csv")));

            Assert.Equal(0, (await CliRunner.Run("search", "cancel", "remote", "--cluster", cluster)).ExitCode);
            status = await CliRunner.Run("search", "status", "remote", "--cluster", cluster, "--json");
            Assert.Equal(2, JsonDocument.Parse(status.Out).RootElement.GetProperty("stages").GetProperty("cancelled").GetInt32());

            var unknown = await CliRunner.Run("search", "status", "nope", "--cluster", cluster);
            Assert.Equal(SrMobileCommand.BadInput, unknown.ExitCode);
            Assert.Contains("no search named 'nope'", unknown.Error);
        }
        finally
        {
            await silo.StopAsync();
        }
    }

    [Fact]
    public async Task The_cli_reaches_a_silo_with_other_cluster_ids_through_the_same_settings()
    {
        using var work = TestData.NewTemporaryFolder();
        var gateway = TestData.FreePort();
        using var silo = await StartSilo(work, gateway,
            ("SrMobile:Roles:0", "coordinator"), ("SrMobile:ClusterId", "lab"), ("SrMobile:ServiceId", "lab-search"));
        try
        {
            // Without the silo's ids, no gateway lets the CLI in: a clear error, in seconds rather than Orleans' minutes.
            var refused = await CliRunner.Run("device", "list", "--cluster", $"127.0.0.1:{gateway}");
            Assert.Equal(SrMobileCommand.BadInput, refused.ExitCode);
            Assert.Contains("no gateway answered within 20 s", refused.Error);

            // The CLI reads the silo's keys from its environment (the test assembly runs its tests one at a time).
            Environment.SetEnvironmentVariable("SrMobile__ClusterId", "lab");
            Environment.SetEnvironmentVariable("SrMobile__ServiceId", "lab-search");
            var devices = await CliRunner.Run("device", "list", "--cluster", $"127.0.0.1:{gateway}");
            Assert.True(devices.ExitCode == 0, devices.Error);
            Assert.Contains("no device workers have registered", devices.Out);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SrMobile__ClusterId", null);
            Environment.SetEnvironmentVariable("SrMobile__ServiceId", null);
            await silo.StopAsync();
        }
    }
}
