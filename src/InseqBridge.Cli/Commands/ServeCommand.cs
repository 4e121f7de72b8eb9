using System.CommandLine;
using InseqBridge.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>serve</c>: the attribution service over HTTP (see README, "Run as a service"): <c>POST /v1/attribute</c>, the web
/// page at <c>/</c>, <c>/docs</c>, <c>/metrics</c>, health probes. Models are addressed by NAME only.
/// </summary>
public static class ServeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = new Option<string[]>("--model") { Description = "A model to serve, as NAME=DIR (repeat for several). Requests name the model by NAME.", Required = true, HelpName = "NAME=DIR" };
        var urls = new Option<string[]>("--urls") { Description = $"Address(es) to listen on (default {InseqBridgeServer.DefaultUrl}; anything but loopback needs --api-key-file).", HelpName = "URL" };
        var concurrency = new Option<int?>("--max-concurrency") { Description = $"Attributions running at once (default: one per two cores, here {InseqBridgeServerOptions.DefaultConcurrency}).", HelpName = "N" };
        var queue = new Option<int?>("--queue") { Description = "Requests waiting for a slot before new ones get 429 (default 16).", HelpName = "N" };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File with the API key(s), one per line; requests then need 'Authorization: Bearer KEY'.", HelpName = "FILE" };
        var command = new Command("serve", "Serve attributions over HTTP (JSON API, web page, metrics).") { model, urls, concurrency, queue, apiKeyFile };
        // A synchronous action: the host's console lifetime handles Ctrl+C and SIGTERM (graceful shutdown), not the parser.
        command.SetAction(parseResult => Run(
            parseResult.GetValue(model) ?? [], parseResult.GetValue(urls) ?? [], parseResult.GetValue(concurrency), parseResult.GetValue(queue),
            parseResult.GetValue(apiKeyFile), parseResult.InvocationConfiguration.Output).GetAwaiter().GetResult());
        return command;
    }

    private static async Task<int> Run(string[] models, string[] urls, int? concurrency, int? queue, string? apiKeyFile, TextWriter output)
    {
        var named = new List<(string Name, string Dir)>();
        foreach (string spec in models)
        {
            int eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == spec.Length - 1)
            {
                throw new CliUsageException($"--model: '{spec}' is not NAME=DIR (e.g. --model demo=examples/models/words2digits).");
            }

            string name = spec[..eq];
            if (named.Any(m => m.Name == name))
            {
                throw new CliUsageException($"--model: the name '{name}' is given twice.");
            }

            string dir = spec[(eq + 1)..];
            if (!Directory.Exists(dir))
            {
                throw new CliUsageException($"--model {name}: folder not found: {dir}");
            }

            named.Add((name, dir));
        }

        if (concurrency is < 1)
        {
            throw new CliUsageException("--max-concurrency must be at least 1.");
        }

        if (queue is < 0)
        {
            throw new CliUsageException("--queue must be 0 or more.");
        }

        string[] keys = [];
        if (apiKeyFile is not null)
        {
            keys = [.. File.ReadAllLines(apiKeyFile).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
            if (keys.Length == 0)
            {
                throw new CliUsageException($"--api-key-file: {apiKeyFile} holds no key (one per line).");
            }
        }

        WebApplication app;
        try
        {
            app = InseqBridgeServer.Create(urls, o =>
            {
                foreach (var (name, dir) in named)
                {
                    o.Models[name] = dir;
                }

                o.MaxConcurrency = concurrency ?? o.MaxConcurrency;
                o.QueueLength = queue ?? o.QueueLength;
                foreach (string key in keys)
                {
                    o.ApiKeys.Add(key);
                }
            });
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }

        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync().ConfigureAwait(false);
            ModelRegistry registry = app.Services.GetRequiredService<ModelRegistry>();
            try
            {
                await registry.WhenReady.WaitAsync(app.Lifetime.ApplicationStopping).ConfigureAwait(false);
            }
            catch (Exception) when (registry.Failure is { } failure)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                throw failure;
            }
            catch (OperationCanceledException)
            {
                // Stopped while loading.
            }

            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            output.WriteLine($"serving {string.Join(", ", named.Select(m => m.Name))} on {string.Join(", ", addresses)} (web page at /, API docs at /docs); Ctrl+C stops");
            output.Flush();
            await app.WaitForShutdownAsync().ConfigureAwait(false);
            output.WriteLine("stopped");
        }

        return ExitCodes.Success;
    }
}
