"""The cryptographic profile (issue 29, 密评 GB/T 39786-2021): switching a deployment's stored
data to the profile configured (OPENDAY_CRYPTO: standard, or sm for 国密) and the algorithm
inventory for the assessment file.

    switch     verify every audit chain, re-encrypt personal data, re-seal the chains under the
               profile's MAC, one audit line (`openday crypto switch`)
    reseal     re-computing the chains' MACs in place, the append-only guards lifted for that
               transaction only
    inventory  which data, which algorithm, which key, how many stored values under each
               (`openday crypto inventory`)
"""
