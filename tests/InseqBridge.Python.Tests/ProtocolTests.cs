using System.Buffers.Binary;
using System.Text.Json.Nodes;

namespace InseqBridge.Python.Tests;

public class ProtocolTests
{
    [Fact]
    public async Task A_frame_round_trips_header_and_body()
    {
        using var stream = new MemoryStream();
        byte[] body = [1, 2, 3, 255];
        await WorkerProtocol.WriteAsync(stream, new WorkerMessage(new JsonObject { ["id"] = 7, ["op"] = "x" }, body), 100);
        stream.Position = 0;
        WorkerMessage? read = await WorkerProtocol.ReadAsync(stream, 100);
        Assert.NotNull(read);
        Assert.Equal(7, read!.Header["id"]!.GetValue<int>());
        Assert.Equal(body, read.Body);
        Assert.Null(await WorkerProtocol.ReadAsync(stream, 100)); // clean end
    }

    [Fact]
    public async Task Oversized_bodies_are_refused_on_both_sides_without_allocating()
    {
        using var stream = new MemoryStream();
        await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.WriteAsync(stream, new WorkerMessage([], new byte[11]), 10));

        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(4), uint.MaxValue); // claims 4 GiB
        using var claim = new MemoryStream([.. prefix, .. "{}"u8.ToArray()]);
        var e = await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.ReadAsync(claim, 1 << 20));
        Assert.Contains("exceeds the limit", e.Message);
    }

    [Fact]
    public async Task Truncated_and_malformed_frames_are_protocol_errors()
    {
        using var stream = new MemoryStream();
        await WorkerProtocol.WriteAsync(stream, new WorkerMessage(new JsonObject { ["id"] = 1 }, [9, 9, 9]), 100);
        byte[] whole = stream.ToArray();
        using var truncated = new MemoryStream(whole[..^1]);
        await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.ReadAsync(truncated, 100));

        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, 3);
        using var notJson = new MemoryStream([.. prefix, .. "{x]"u8.ToArray()]);
        await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.ReadAsync(notJson, 100));
    }
}
