using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SrMobile.Hosting;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Query;
using SrMobile.Hosting.Web;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

/// <summary>
/// A real coordinator process as <c>srmobile-silo</c> builds it (WebApplication, <see cref="SiloHostingExtensions.AddSrMobileSilo"/>,
/// <see cref="WebHostingExtensions.AddSrMobileWeb"/>) on free ports of 127.0.0.1, local storage in a temporary folder, no
/// workers: a test plays trainer and device worker itself through the grains, so it knows exactly what the cluster holds.
/// One search is ready: <see cref="Search"/> has two candidates, <see cref="Finished"/> trained (with a real int8 ONNX
/// file in the artifact store) and measured on <see cref="Device"/>, the other still queued.
/// </summary>
public sealed class ApiHost : IAsyncLifetime
{
    public const string Key = "test-key-0123456789";
    public const string Instance = "api-test-instance";

    private readonly TemporaryFolder work = TestData.NewTemporaryFolder();
    private WebApplication? app;

    public string Search { get; } = $"api-{Guid.NewGuid():N}"[..16];
    public string Device { get; } = $"tv-{Guid.NewGuid():N}"[..12];
    public HttpClient Http { get; private set; } = null!;
    public IGrainFactory Grains => app!.Services.GetRequiredService<IGrainFactory>();
    public CandidateSpec Finished { get; private set; } = null!;
    public CandidateSpec Queued { get; private set; } = null!;
    public Artifact Model { get; private set; } = null!;
    public DeviceMeasurement Measurement { get; private set; } = null!;
    public string Folder => work.Path;

    public string Spec(string name, string extra = "") => $$"""
        name: {{name}}
        scales: [3]
        depths: [1, 2]
        widths: [4]
        quantization: [{kind: ptq}]
        datasets: {train: "{{work.File("data")}}"}
        devices: [{{Device}}]
        {{extra}}
        """;

    public async Task InitializeAsync()
    {
        var port = TestData.FreePort();
        // The silo's own name: its static web assets manifest (the dashboard's scripts) is srmobile-silo.staticwebassets.*.json.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "srmobile-silo" });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SrMobile:Roles:0"] = "coordinator",
            ["SrMobile:DataFolder"] = work.File("state"),
            ["SrMobile:SiloPort"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:GatewayPort"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:ServiceId"] = $"api-{Guid.NewGuid():N}",
            ["SrMobile:Http:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:Auth:ApiKeys:0"] = Key,
            ["SrMobile:DataRoots:0"] = work.Path,
            ["SrMobile:Metrics:Instance"] = Instance,
        });
        builder.AddSrMobileSilo();
        builder.AddSrMobileWeb();
        app = builder.Build();
        app.MapSrMobileWeb();
        await app.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        using var submit = new HttpRequestMessage(HttpMethod.Post, "api/searches") { Content = new StringContent(Spec(Search)) };
        submit.Headers.Add(SearchApiClient.ApiKeyHeader, Key);
        var submitted = await Http.SendAsync(submit);
        Assert.Equal(System.Net.HttpStatusCode.Created, submitted.StatusCode);
        await SearchExpansion.Expanded(Grains.GetGrain<ISearchGrain>(Search));
        var grid = SearchGrid.Expand(SearchSpecReader.Parse(Spec(Search)).Spec!).ToList();

        // The device worker introduces itself; then the test trains and measures the first candidate as the workers would.
        var session = await DeviceSessions.Join(Grains, Device, "lab-board", "onnxruntime 1.31.1");
        var trainers = Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        var training = (await trainers.Lease("test-trainer"))!;
        // The grid's candidates are created side by side: whichever was queued first is the one trained here.
        Finished = grid.Single(c => c.TrainingJobId == training.JobId);
        Queued = grid.Single(c => c != Finished);
        var candidate = Grains.GetGrain<ICandidateGrain>(Finished.Key);
        Assert.True((await candidate.TrainingStarted(training)).Accepted);
        var model = work.File("model.int8.onnx");
        await File.WriteAllBytesAsync(model, [.. Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7 % 251))]);
        Model = await app.Services.GetRequiredService<IArtifactStore>().Put(ArtifactKinds.Int8Onnx, "candidates/api/model.int8.onnx", model, CancellationToken.None);
        Assert.True((await candidate.Trained(training, new TrainedCandidate(30.5, 30.1, 0.91, 100, [Model]))).Accepted);
        var measuring = (await Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(Device)).Lease("lab-board", session.Id))!;
        Assert.True((await candidate.MeasurementStarted(measuring)).Accepted);
        Measurement = new DeviceMeasurement(Device, 12.5, 14.0, 20, "onnxruntime 1.31.1", 29.8, 0.9, "{}");
        Assert.True((await candidate.Measured(measuring, Measurement)).Accepted);
        await WaitFor(async () => (await Grains.GetGrain<ISearchGrain>(Search).Status()).Stages.GetValueOrDefault(CandidateStage.Done) == 1, "the search hears of the finished candidate");
    }

    public async Task<T> Get<T>(string path) => (await Http.GetFromJsonAsync<T>(path, SearchJson.Options))!;

    /// <summary>Polls <paramref name="condition"/> (every 50 ms, 30 s at most): the search hears of its candidates by one-way news.</summary>
    public static async Task WaitFor(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        work.Dispose();
    }
}
