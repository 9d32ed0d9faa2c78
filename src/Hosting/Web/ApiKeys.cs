using System.Net;
using Microsoft.Extensions.Options;
using SrMobile.Query;

namespace SrMobile.Hosting.Web;

/// <summary>
/// The API's gate, as endpoint filters: a missing key is 401, a wrong one (or any key while none is configured) 403,
/// and the handler never runs, so a refused write changes nothing. Keys are compared as SHA-256 digests in fixed time.
/// </summary>
public sealed class ApiKeys(IOptions<AuthOptions> options)
{
    private readonly KeyRing keys = new(options.Value);

    public EndpointFilterDelegate Read(EndpointFilterFactoryContext _, EndpointFilterDelegate next) => context =>
        options.Value.Read == ReadAccess.Anyone || (options.Value.Read == ReadAccess.Loopback && IsLoopback(context.HttpContext))
            ? next(context)
            : Check(context, next, "reading");

    public EndpointFilterDelegate Write(EndpointFilterFactoryContext _, EndpointFilterDelegate next) => context => Check(context, next, "this write");

    private ValueTask<object?> Check(EndpointFilterInvocationContext context, EndpointFilterDelegate next, string what)
    {
        var given = context.HttpContext.Request.Headers[SearchApiClient.ApiKeyHeader].ToString();
        if (given.Length == 0)
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{SearchApiClient.ApiKeyHeader}\"";
            return Refuse(StatusCodes.Status401Unauthorized, $"{what} needs an API key in the {SearchApiClient.ApiKeyHeader} header");
        }
        if (keys.IsEmpty)
            return Refuse(StatusCodes.Status403Forbidden, $"no API keys are configured ({AuthOptions.Section}:ApiKeys): {what} is refused");
        return keys.Holds(given) ? next(context) : Refuse(StatusCodes.Status403Forbidden, $"the API key is not one of {AuthOptions.Section}:ApiKeys");
    }

    private static ValueTask<object?> Refuse(int status, string title) =>
        ValueTask.FromResult<object?>(Results.Json(new ApiProblem(title, []), SearchJson.Options, statusCode: status));

    private static bool IsLoopback(HttpContext context) => context.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address);
}
