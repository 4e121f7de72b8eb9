using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace InseqBridge.Python;

/// <summary>One message on the worker channel: a JSON header and a raw byte body.</summary>
/// <param name="Header">Header: <c>{"id", "op", "args"}</c> for requests, <c>{"id", "ok", "result" | "error"}</c> for replies.</param>
/// <param name="Body">Raw bytes (float32 blobs, Inseq JSON); empty when none.</param>
internal sealed record WorkerMessage(JsonObject Header, byte[] Body);

/// <summary>
/// The worker channel's framing: <c>[u32 LE header length][u32 LE body length][header: UTF-8 JSON][body]</c>.
/// Both lengths are bounded (header 16 MiB, body the configured maximum); an oversized or truncated frame is a
/// <see cref="PythonProtocolException"/>, never an allocation of whatever size the peer announced.
/// </summary>
internal static class WorkerProtocol
{
    /// <summary>Largest header accepted.</summary>
    public const int MaxHeaderBytes = 16 << 20;

    /// <summary>Writes one frame and flushes.</summary>
    public static async Task WriteAsync(Stream stream, WorkerMessage message, int maxBodyBytes, CancellationToken cancellationToken = default)
    {
        byte[] header = Encoding.UTF8.GetBytes(message.Header.ToJsonString());
        if (header.Length > MaxHeaderBytes)
        {
            throw new PythonProtocolException($"Message header of {header.Length} bytes exceeds the limit of {MaxHeaderBytes}.");
        }

        if (message.Body.Length > maxBodyBytes)
        {
            throw new PythonProtocolException($"Message body of {message.Body.Length} bytes exceeds the limit of {maxBodyBytes} (PythonBackendOptions.MaxMessageBytes).");
        }

        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)header.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(4), (uint)message.Body.Length);
        await stream.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        if (message.Body.Length > 0)
        {
            await stream.WriteAsync(message.Body, cancellationToken).ConfigureAwait(false);
        }

        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one frame; null at a clean end of stream (before any byte of a frame).</summary>
    /// <exception cref="PythonProtocolException">Truncated frame, oversized lengths or a header that is not a JSON object.</exception>
    public static async Task<WorkerMessage?> ReadAsync(Stream stream, int maxBodyBytes, CancellationToken cancellationToken = default)
    {
        var prefix = new byte[8];
        int got = await ReadFullyAsync(stream, prefix, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }

        if (got < prefix.Length)
        {
            throw new PythonProtocolException("The worker channel ended in the middle of a message.");
        }

        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(4));
        if (headerLength == 0 || headerLength > MaxHeaderBytes)
        {
            throw new PythonProtocolException($"Message header length {headerLength} is outside 1..{MaxHeaderBytes}.");
        }

        if (bodyLength > (uint)maxBodyBytes)
        {
            throw new PythonProtocolException($"Message body of {bodyLength} bytes exceeds the limit of {maxBodyBytes} (PythonBackendOptions.MaxMessageBytes).");
        }

        var header = new byte[headerLength];
        var body = new byte[bodyLength];
        if (await ReadFullyAsync(stream, header, cancellationToken).ConfigureAwait(false) < header.Length
            || await ReadFullyAsync(stream, body, cancellationToken).ConfigureAwait(false) < body.Length)
        {
            throw new PythonProtocolException("The worker channel ended in the middle of a message.");
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(header);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new PythonProtocolException($"Message header is not valid JSON: {e.Message}");
        }

        return node is JsonObject obj ? new WorkerMessage(obj, body) : throw new PythonProtocolException("Message header is not a JSON object.");
    }

    private static async Task<int> ReadFullyAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
