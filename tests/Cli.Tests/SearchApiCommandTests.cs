using System.Globalization;
using System.Text.Json;
using SrMobile.Hosting;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class SearchApiCommandTests
{
    private const string Key = "cli-api-key";

    [Fact]
    public async Task Submit_status_pareto_devices_and_cancel_work_over_the_http_api_and_writes_need_the_key()
    {
        using var work = TestData.NewTemporaryFolder();
        var port = TestData.FreePort();
        var settings = new Dictionary<string, string>
        {
            ["SrMobile:DataFolder"] = work.File("state"),
            ["SrMobile:SiloPort"] = TestData.FreePort().ToString(CultureInfo.InvariantCulture),
            ["SrMobile:GatewayPort"] = TestData.FreePort().ToString(CultureInfo.InvariantCulture),
            ["SrMobile:Http:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["SrMobile:Auth:ApiKeys:0"] = Key,
            // No trainer: the candidates stay queued until cancelled.
            ["SrMobile:Roles:0"] = "coordinator",
            ["SrMobile:Roles:1"] = "device",
            ["SrMobile:Simulate"] = "true",
            ["SrMobile:Device:Key"] = "tv",
            ["SrMobile:Device:WorkerId"] = "tv-over-http",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        // The dashboard's static assets are listed in the manifest of the CLI, whose output this test runs in.
        await using var app = SiloHost.Build([.. settings.Select(s => $"--{s.Key}={s.Value}"), "--applicationName=srmobile"]);
        await app.StartAsync();
        try
        {
            var api = $"http://127.0.0.1:{port}";
            File.WriteAllText(work.File("spec.json"), """
                {"name": "over-http", "scales": [2, 3], "depths": [1], "widths": [4], "quantization": [{"kind": "ptq"}],
                 "datasets": {"train": "t"}, "devices": ["tv"]}
                """);
            var refused = await CliRunner.Run("search", "submit", work.File("spec.json"), "--api", api, "--api-key", "wrong");
            Assert.NotEqual(0, refused.ExitCode);
            Assert.True(refused.Error.Contains("403", StringComparison.Ordinal), refused.Error);
            var submit = await CliRunner.Run("search", "submit", work.File("spec.json"), "--api", api, "--api-key", Key, "--json");
            Assert.True(submit.ExitCode == 0, submit.Error);
            Assert.Equal(2, JsonDocument.Parse(submit.Out).RootElement.GetProperty("candidates").GetInt32());

            var deadline = DateTime.UtcNow.AddSeconds(30);
            CliRun status;
            while ((status = await CliRunner.Run("search", "status", "over-http", "--api", api, "--json")).ExitCode == 0
                && JsonDocument.Parse(status.Out).RootElement.GetProperty("created").GetInt32() < 2 && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.True(status.ExitCode == 0, status.Error);
            Assert.Equal(2, JsonDocument.Parse(status.Out).RootElement.GetProperty("stages").GetProperty("queued").GetInt32());

            CliRun devices;
            while ((devices = await CliRunner.Run("device", "list", "--api", api, "--json")).ExitCode == 0
                && JsonDocument.Parse(devices.Out).RootElement.GetArrayLength() == 0 && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.True(devices.ExitCode == 0, devices.Error);
            Assert.Equal("tv-over-http", JsonDocument.Parse(devices.Out).RootElement.EnumerateArray().Single().GetProperty("worker").GetString());

            var pareto = await CliRunner.Run("search", "pareto", "over-http", "--api", api, "--csv", work.File("front.csv"));
            Assert.True(pareto.ExitCode == 0, pareto.Error);
            Assert.Equal(["scale,device,candidate,psnr,median_ms,mai_score"], File.ReadAllLines(work.File("front.csv")));

            var cancel = await CliRunner.Run("search", "cancel", "over-http", "--api", api, "--api-key", Key);
            Assert.True(cancel.ExitCode == 0, cancel.Error);
            status = await CliRunner.Run("search", "status", "over-http", "--api", api, "--json");
            Assert.Equal(2, JsonDocument.Parse(status.Out).RootElement.GetProperty("stages").GetProperty("cancelled").GetInt32());

            var unknown = await CliRunner.Run("search", "status", "nope", "--api", api);
            Assert.Equal(SrMobileCommand.BadInput, unknown.ExitCode);
            Assert.Contains("nope", unknown.Error);
            var notUrl = await CliRunner.Run("search", "status", "nope", "--api", "ftp://x");
            Assert.Contains("--api must be an http(s) URL", notUrl.Error);
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
