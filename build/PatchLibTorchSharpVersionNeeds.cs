#nullable enable
// Marks version requirements of libLibTorchSharp.so on libstdc++ that the host's libstdc++ does not define
// as weak (VER_FLG_WEAK), so the dynamic loader accepts the library on older distributions (Debian 12 stops at
// GLIBCXX_3.4.30; TorchSharp 0.107 asks for GLIBCXX_3.4.32 for one symbol that nothing relocates against).
// Compiled by build/TorchSharpNative.targets as an MSBuild inline task (RoslynCodeTaskFactory).
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;

public static class ElfVersionNeedPatcher
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>Returns the version names patched (empty when nothing was needed).</summary>
    public static List<string> Patch(string libraryPath, string hostLibStdCxxPath)
    {
        var patched = new List<string>();
        byte[] hostBytes = File.ReadAllBytes(hostLibStdCxxPath);
        byte[] elf = File.ReadAllBytes(libraryPath);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
        {
            return patched; // not a little-endian ELF64 file: nothing this patcher understands
        }

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed)
            {
                continue;
            }

            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 24));
            int strtabIndex = (int)BitConverter.ToUInt32(elf, sh + 40);
            int count = (int)BitConverter.ToUInt32(elf, sh + 44);
            int strtabHeader = checked((int)shoff + strtabIndex * shentsize);
            int strtab = checked((int)BitConverter.ToUInt64(elf, strtabHeader + 24));

            int need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, need + 2);
                string file = ReadString(elf, strtab + (int)BitConverter.ToUInt32(elf, need + 4));
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string version = ReadString(elf, strtab + (int)BitConverter.ToUInt32(elf, aux + 8));
                    ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                    if (file.StartsWith("libstdc++", StringComparison.Ordinal)
                        && (flags & VerFlagWeak) == 0
                        && !Contains(hostBytes, Encoding.ASCII.GetBytes(version + "\0")))
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(elf, aux + 4);
                        patched.Add(version);
                    }

                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }

                need += (int)BitConverter.ToUInt32(elf, need + 12);
            }
        }

        if (patched.Count > 0)
        {
            // Write beside and rename: the output copy may share an inode with the NuGet cache.
            string temp = libraryPath + ".patching";
            File.WriteAllBytes(temp, elf);
            File.Delete(libraryPath);
            File.Move(temp, libraryPath);
        }

        return patched;
    }

    private static string ReadString(byte[] data, int start)
    {
        int end = start;
        while (end < data.Length && data[end] != 0)
        {
            end++;
        }

        return Encoding.ASCII.GetString(data, start, end - start);
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
            {
                j++;
            }

            if (j == needle.Length)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>MSBuild task: patches every given libLibTorchSharp.so when the host's libstdc++ needs it.</summary>
public sealed class PatchLibTorchSharpVersionNeeds : Microsoft.Build.Utilities.Task
{
    /// <summary>Candidate library files (missing ones are ignored).</summary>
    [Required]
    public string[] Libraries { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux))
        {
            return true;
        }

        string? host = null;
        foreach (string candidate in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
        {
            if (File.Exists(candidate)) { host = candidate; break; }
        }

        if (host is null)
        {
            Log.LogMessage(MessageImportance.High, "InseqBridge: no system libstdc++.so.6 found; libLibTorchSharp.so left as shipped.");
            return true;
        }

        foreach (string library in Libraries)
        {
            if (!File.Exists(library)) { continue; }
            List<string> patched = ElfVersionNeedPatcher.Patch(library, host);
            if (patched.Count > 0)
            {
                Log.LogMessage(MessageImportance.High, $"InseqBridge: marked {string.Join(", ", patched)} weak in {library} (host libstdc++ lacks them; see README troubleshooting).");
            }
        }

        return true;
    }
}
