using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using SrMobile.Cluster;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Grains;
using SrMobile.Query;

namespace SrMobile.Hosting.Web;

/// <summary>
/// The coordinator's HTTP API over <see cref="SearchService"/>. Candidate keys hold '/': the candidate routes take the
/// key either as one escaped segment (<c>x3-m4-c28%2Fptq-minmax-100%2F{hash}</c>) or as the rest of the path
/// (<c>/candidates/x3-m4-c28/ptq-minmax-100/{hash}</c>, and <c>…/{hash}/artifacts/{kind}</c>), whole or without the
/// search's name. JSON is snake_case (<see cref="SearchJson"/>); refusals are <see cref="ApiProblem"/>s.
/// </summary>
public static partial class ApiEndpoints
{
    public static IEndpointRouteBuilder MapSrMobileApi(this IEndpointRouteBuilder app)
    {
        var keys = app.ServiceProvider.GetRequiredService<ApiKeys>();
        var read = app.MapGroup("/api").WithTags("SrMobile").AddEndpointFilterFactory(keys.Read);
        var write = app.MapGroup("/api").WithTags("SrMobile").AddEndpointFilterFactory(keys.Write);

        read.MapGet("/searches", (SearchService service, CancellationToken cancellation) => service.Searches(cancellation))
            .WithSummary("Every search, newest first, with its counts by stage");
        read.MapGet("/searches/{name}", async (string name, SearchService service, CancellationToken cancellation) =>
                await service.Overview(name, cancellation) is { } overview ? Results.Json(overview, SearchJson.Options) : NoSearch(name))
            .WithSummary("A search: candidates by stage, stalls (waiting device keys), fronts with hypervolume over time, failed candidates' errors, running jobs");
        read.MapGet("/searches/{name}/pareto", Pareto)
            .WithSummary("The fronts per scale and device key (filter with scale and device); CSV with Accept: text/csv or format=csv");
        read.MapGet("/searches/{name}/candidates/{key}/artifacts/{kind}", (string name, string key, string kind, SearchService service, IArtifactStore store, IConfiguration configuration, HttpContext http) =>
                Artifact(name, Uri.UnescapeDataString(key), kind, service, store, configuration, http))
            .WithSummary("A candidate's artifact (int8-onnx, float-onnx, float-checkpoint, training-record) streamed, its SHA-256 in X-Artifact-Sha256; the key as one escaped segment");
        read.MapGet("/searches/{name}/candidates/{**key}", Candidate)
            .WithSummary("A candidate and its jobs; the key as the rest of the path (…/{key}/artifacts/{kind} downloads an artifact)");
        read.MapGet("/devices", (SearchService service, CancellationToken cancellation) => service.Devices(cancellation))
            .WithSummary("Registered device workers (online or not) and the queue of each device key");
        write.MapPost("/searches", Submit)
            .WithSummary("Submit a spec (YAML or JSON body); 201 when created, 200 when the same spec was submitted before, 400 with every error and its field")
            .Accepts<string>("application/yaml", "application/json", "text/plain");
        write.MapPost("/searches/{name}/cancel", async (string name, SearchService service, CancellationToken cancellation) =>
                await service.Cancel(name, cancellation) ? Results.Json((await service.Overview(name, cancellation))?.Status, SearchJson.Options) : NoSearch(name))
            .WithSummary("Cancel every unfinished candidate of a search");
        // Tokens are credentials: even listing them (ids, keys, expiry; never a secret) needs a key.
        write.MapPost("/devices/tokens", CreateToken)
            .WithSummary("Issue a device join token: {\"device_key\": \"pixel-8\", \"expires_days\": 30}; the secret is in this answer only");
        write.MapGet("/devices/tokens", (IGrainFactory grains) => grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).List())
            .WithSummary("Every device join token, revoked and expired ones too, without secrets");
        write.MapPost("/devices/tokens/{id}/revoke", async (string id, IGrainFactory grains) =>
                await grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Revoke(id) ? Results.NoContent() : Problem(StatusCodes.Status404NotFound, $"no device token with id '{id}'"))
            .WithSummary("Revoke a device join token");
        return app;
    }

    private static async Task<IResult> CreateToken(HttpRequest request, IGrainFactory grains)
    {
        DeviceTokenRequest? body;
        try
        {
            // Whatever the content type says (curl sends form encoding unless told): the body is read as JSON.
            body = await System.Text.Json.JsonSerializer.DeserializeAsync<DeviceTokenRequest>(request.Body, SearchJson.Options);
        }
        catch (System.Text.Json.JsonException e)
        {
            return Problem(StatusCodes.Status400BadRequest, "the body is not a token request", [new SpecError("(body)", e.Message)]);
        }
        var errors = new List<SpecError>();
        if (string.IsNullOrWhiteSpace(body?.DeviceKey))
            errors.Add(new SpecError("device_key", "is required: the device key the agent measures for, e.g. pixel-8"));
        if (body?.ExpiresDays is <= 0)
            errors.Add(new SpecError("expires_days", $"must be a positive number of days, not {body.ExpiresDays}"));
        if (errors.Count > 0)
            return Problem(StatusCodes.Status400BadRequest, "the token request is refused", errors);
        var issued = await grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key)
            .Create(body!.DeviceKey!, body.ExpiresDays is { } days ? TimeSpan.FromDays(days) : null);
        return Results.Json(issued, SearchJson.Options, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The body of a token request (snake_case: <c>device_key</c>, <c>expires_days</c>).</summary>
    private sealed record DeviceTokenRequest(string? DeviceKey, int? ExpiresDays);

    private static async Task<IResult> Pareto(string name, int? scale, string? device, string? format, HttpRequest request, SearchService service, CancellationToken cancellation)
    {
        var fronts = await service.Fronts(name, scale, device, cancellation);
        if (fronts is null)
            return NoSearch(name);
        var csv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase)
            || (format is null && request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)));
        return csv ? Results.Text(FrontCsv.Write(fronts), "text/csv; charset=utf-8") : Results.Json(fronts, SearchJson.Options);
    }

    private static async Task<IResult> Candidate(string name, string key, SearchService service, IArtifactStore store, IConfiguration configuration, HttpContext http)
    {
        var path = Uri.UnescapeDataString(key);
        if (ArtifactPath().Match(path) is { Success: true } artifact)
            return await Artifact(name, artifact.Groups["key"].Value, artifact.Groups["kind"].Value, service, store, configuration, http);
        return await service.Candidate(name, path, http.RequestAborted) is { } detail
            ? Results.Json(detail, SearchJson.Options)
            : Problem(StatusCodes.Status404NotFound, $"search '{name}' has no candidate '{path}'");
    }

    /// <summary>
    /// Streams the artifact from the silo's own store: a local one is read where it is, a blob is downloaded once into
    /// the data folder's <c>downloads</c> (kept, and not downloaded again while its hash matches). Either way its
    /// SHA-256 is checked against the record before a byte is sent.
    /// </summary>
    private static async Task<IResult> Artifact(string name, string key, string kind, SearchService service, IArtifactStore store, IConfiguration configuration, HttpContext http)
    {
        if (!ArtifactKinds.All.Contains(kind))
            return Problem(StatusCodes.Status404NotFound, $"no artifact kind '{kind}': one of {string.Join(", ", ArtifactKinds.All)}");
        if (await service.Artifact(name, key, kind) is not { } artifact)
            return Problem(StatusCodes.Status404NotFound, $"search '{name}' has no candidate '{key}' with a {kind} artifact (is it trained?)");
        string path;
        try
        {
            path = await store.Fetch(artifact, Path.Combine(ClusterHostingExtensions.DataFolder(configuration), "downloads"), http.RequestAborted);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException or NotSupportedException)
        {
            return Problem(StatusCodes.Status502BadGateway, $"the artifact store cannot give {kind} of {key}: {e.Message}");
        }
        http.Response.Headers[SearchApiClient.Sha256Header] = artifact.Sha256;
        return Results.File(path, "application/octet-stream", Path.GetFileName(path), enableRangeProcessing: true);
    }

    private static async Task<IResult> Submit(HttpRequest request, SearchService service, IOptions<LimitsOptions> limits, CancellationToken cancellation)
    {
        // Read no more than the limit allows (plus one character to know it was exceeded): a body is not held whole first.
        var max = limits.Value.MaxSpecCharacters;
        using var reader = new StreamReader(request.Body);
        var buffer = new char[max + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await reader.ReadBlockAsync(buffer.AsMemory(length), cancellation)) > 0)
            length += read;
        if (length > max)
            return Problem(StatusCodes.Status400BadRequest, "the spec was refused", [new SpecError("spec", $"is longer than {max} characters ({LimitsOptions.Section}:MaxSpecCharacters)")]);
        var outcome = await service.Submit(new string(buffer, 0, length), cancellation);
        if (!outcome.Result.Accepted)
            return Problem(StatusCodes.Status400BadRequest, "the spec was refused", outcome.Result.Errors);
        return outcome.Result.Created
            ? Results.Json(outcome, SearchJson.Options, statusCode: StatusCodes.Status201Created)
            : Results.Json(outcome, SearchJson.Options);
    }

    private static IResult NoSearch(string name) => Problem(StatusCodes.Status404NotFound, $"no search named '{name}'");

    private static IResult Problem(int status, string title, IReadOnlyList<SpecError>? errors = null) =>
        Results.Json(new ApiProblem(title, errors ?? []), SearchJson.Options, statusCode: status);

    [GeneratedRegex("^(?<key>.+)/artifacts/(?<kind>[^/]+)$")]
    private static partial Regex ArtifactPath();
}
