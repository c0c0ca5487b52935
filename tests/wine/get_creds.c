/* Test-only credential_process program for the Wine checks: a Windows exe
 * that prints the credential_process JSON (AWS SDKs and Tools Reference Guide,
 * "Sourcing credentials with an external process",
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html)
 * for access key AKIDWINEPROC<argv[1]>, but only when it got exactly two
 * arguments and the second is "two words": so the check proves that the
 * command line reached it through cmd.exe as Windows splits it. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[2], "two words") != 0) {
        fprintf(stderr, "get creds.exe: expected 2 arguments, the second \"two words\"; found %d\n", argc - 1);
        for (int i = 1; i < argc; i++) fprintf(stderr, "  argv[%d] = [%s]\n", i, argv[i]);
        return 3;
    }
    printf("{\"Version\": 1, \"AccessKeyId\": \"AKIDWINEPROC%s\", "
           "\"SecretAccessKey\": \"wineProcessSecret/%s/0000000000\", "
           "\"SessionToken\": \"wineProcessToken/%s\"}\n", argv[1], argv[1], argv[1]);
    return 0;
}
